"""The publishing commands and the worker when the broker fails under them (issue 15, items 3 and 5).

A real tansu that the test stops, or restarts on the same port: its storage is memory, so a restart
is a reset (every topic and the producers it knew are gone), and any client's metadata request for
a missing topic makes tansu create it with its own default of 4 partitions.

A publisher that lives across a restart runs in a child process: kafka-python drops the socket of
each connection the restarting broker refused unclosed, and in this process its ResourceWarning
would fail whichever test the garbage collector happens to run in.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.config import load_settings
from pipeline.sample import load_sample
from pipeline.stream import topics
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.publish import ensure_topics
from tests.audio_sources import ffmpeg
from tests.pipeline_harness import env_of

pytestmark = pytest.mark.integration

SAMPLE = load_sample()
PARTITIONS = 8


@pytest.fixture
def own(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as running:
        yield running


ACROSS_A_RESTART = """
import sys
from datetime import UTC, datetime
from pipeline.errors import ClaimWatchError
from pipeline.records import StreamInfo
from pipeline.stream.publish import Publisher

bootstrap, partitions, *ids = sys.argv[1:]
records = [StreamInfo(i, "anchor-1", "mcn-a", datetime(2026, 11, 20, 12, tzinfo=UTC)) for i in ids]
publisher = Publisher(bootstrap, int(partitions), delivery_timeout_s=5)
publisher.send("streams", records[0].stream_id, records[0])
publisher.flush()
print("sent", flush=True)
sys.stdin.readline()  # the broker restarts meanwhile
for record in records[1:]:
    publisher.send("streams", record.stream_id, record)
try:
    publisher.close()
except ClaimWatchError as exc:
    print(f"error: {exc}")
else:
    print("closed")
"""


def publish_across_a_restart(broker: EmbeddedBroker, partitions: int, *stream_ids: str) -> str:
    """The first stream's start published, the broker restarted, the others' sent by the same
    publisher; what closing it said."""
    child = subprocess.Popen(
        [sys.executable, "-c", ACROSS_A_RESTART, broker.bootstrap, str(partitions), *stream_ids],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdin is not None  # noqa: PT018
        assert child.stdout.readline().strip() == "sent"
        broker.stop()
        broker.start()  # same port, empty memory
        out, _ = child.communicate("go\n", timeout=120)
    finally:
        child.kill()
    return out.strip()


def cli(env: dict[str, str], *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def run(env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(env, *args), check=False, env=env, capture_output=True, text=True, timeout=timeout_s
    )


def partitions_of(bootstrap: str) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
    finally:
        admin.close()


def wait_for_a_record(bootstrap: str, topic: str, timeout_s: float = 60) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        deadline = time.monotonic() + timeout_s
        while not consumer.poll(timeout_ms=200):
            assert time.monotonic() < deadline, f"nothing arrived on {topic} in {timeout_s:.0f} s"
    finally:
        consumer.close()


def test_ingest_audio_names_the_pieces_lost_while_the_broker_was_down(
    own: EmbeddedBroker, tmp_path: Path
) -> None:
    """The broker dies after the first piece and stays down past the delivery timeout: ingest
    exits non-zero naming the pieces that never arrived, and never says 'published'."""
    clip = tmp_path / "clip.wav"
    ffmpeg("-i", str(SAMPLE.audio), "-t", "23", str(clip))  # five utterances, one every ~4 s
    env = env_of(load_settings(data_dir=tmp_path, topic_partitions=PARTITIONS), own.bootstrap)
    env["CLAIMWATCH_BROKER_DELIVERY_TIMEOUT_S"] = "2"
    ensure_topics(own.bootstrap, PARTITIONS)  # so the test's reader cannot create them first
    args = ("ingest", "audio", str(clip), "--stream-id", "down-1", "--anchor-id", "a", "--mcn-id", "m")
    ingest = subprocess.Popen(
        cli(env, *args, "--realtime"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_a_record(own.bootstrap, topics.AUDIO)
        own.stop()
        out, err = ingest.communicate(timeout=120)
    finally:
        ingest.kill()
    assert ingest.returncode == 2, err
    assert "published" not in out
    assert "Traceback" not in err
    lost = re.search(r"error: (\d+) of (\d+) records not delivered", err)
    assert lost, err
    assert 4 <= int(lost[1]) < int(lost[2])  # four pieces and the stream's end; the start got there
    assert re.search(r"audio\.chunks down-1 piece \d+ \(\d+\.\d s\)", err), err
    assert "streams down-1 end" in err


def test_records_sent_after_a_broker_reset_are_an_error_naming_them(own: EmbeddedBroker) -> None:
    """A memory broker that restarts forgets the producer: every later send fails (UnknownProducerId)
    and closing must say which records did not arrive instead of returning as if all had."""
    said = publish_across_a_restart(own, 2, "reset-0", "reset-1", "reset-2")
    assert re.match(
        r"error: 2 of 3 records not delivered.*streams reset-1 start.*streams reset-2 start", said
    )


def test_a_broker_reset_is_reported_with_the_command_that_repairs_it(
    own: EmbeddedBroker, tmp_path: Path
) -> None:
    """After a memory broker restarts under a running ingest, tansu re-creates the topics that
    ingest writes with 4 partitions; ingest and the worker must refuse that layout, name it and
    the command that repairs it, instead of publishing onto it or crashing on every event."""
    env = env_of(load_settings(data_dir=tmp_path, topic_partitions=PARTITIONS), own.bootstrap)
    first = run(env, "ingest", "listings", str(SAMPLE.listings))
    assert first.returncode == 0, first.stderr

    own.stop()
    own.start()  # empty memory
    old_ingest = KafkaProducer(bootstrap_servers=own.bootstrap)  # as the issue saw: no layout check
    try:
        old_ingest.send(topics.STREAMS, key=b"reset-1", value=b"{}").get(timeout=30)
    finally:
        old_ingest.close()
    assert partitions_of(own.bootstrap)[topics.STREAMS] == 4  # tansu's default, not ours

    wrong = "streams has 4 partitions, 8 expected"
    again = run(env, "ingest", "listings", str(SAMPLE.listings))
    assert again.returncode == 2, again.stderr
    assert "published" not in again.stdout
    assert wrong in again.stderr
    assert "claimwatch topics repair" in again.stderr

    worker = run(env, "worker", timeout_s=90)  # today's worker runs on and crashes on every event
    assert worker.returncode == 2, worker.stderr[-2000:]
    assert wrong in worker.stderr
    assert "claimwatch topics repair" in worker.stderr

    status = run(env, "topics", "status")
    assert status.returncode == 1
    assert wrong in status.stdout
    refused = run(env, "topics", "repair")
    assert refused.returncode == 1  # it deletes records: only with --yes
    assert partitions_of(own.bootstrap)[topics.STREAMS] == 4
    repaired = run(env, "topics", "repair", "--yes")
    assert repaired.returncode == 0, repaired.stderr
    assert "recreated streams with 8 partitions" in repaired.stdout
    assert {t: partitions_of(own.bootstrap)[t] for t in topics.STREAM_KEYED} == dict.fromkeys(
        topics.STREAM_KEYED, PARTITIONS
    )
    last = run(env, "ingest", "listings", str(SAMPLE.listings))
    assert last.returncode == 0, last.stderr
    assert "published" in last.stdout
