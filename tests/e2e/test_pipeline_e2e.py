"""The streaming pipeline end to end, on real services: tansu, clickhouse-server and chdb.

Every test streams the bundled sample (pipeline/sample) and checks the warehouse against
`claimwatch analyze` on the same input (the same event ids) and against the sample's expected
violations. Each test has its own broker, so consumer groups and topics never mix.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings, load_settings
from pipeline.ledger.files import read_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.records import AudioChunk, StreamInfo, Violation
from pipeline.sample import Sample, load_sample
from pipeline.speech import models
from pipeline.stream import topics
from pipeline.stream.analyze import analyze
from pipeline.stream.app import build, running
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.demo import stream_sample
from pipeline.stream.publish import Publisher, ensure_topics, publish_ledger, read_dead_letters
from pipeline.stream.runtime import create_runtime
from pipeline.warehouse import Store, open_store
from tests.cluster import ClickHouseCluster
from tests.conftest import unique_database
from tests.pipeline_harness import (
    Violations,
    Worker,
    claimwatch,
    env_of,
    ingest_sample,
    stream_finished,
    violations,
    wait_for,
    webhook,
    workers,
)
from tests.services import ClickHouseServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLE = load_sample()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as running:
        yield running.bootstrap


@pytest.fixture(scope="session")
def model(embedded_dir: Path) -> models.LoadedModel:
    return models.load(load_settings(data_dir=embedded_dir))


@pytest.fixture(scope="session")
def reference(model: models.LoadedModel, embedded_dir: Path) -> Violations:
    """`claimwatch analyze` on the sample: what the streaming pipeline must store."""
    info = StreamInfo(SAMPLE.stream_id, SAMPLE.anchor_id, SAMPLE.mcn_id, SAMPLE.started_at)
    result = analyze(
        load_settings(data_dir=embedded_dir),
        audio=SAMPLE.audio, listings=SAMPLE.listings, ledger=SAMPLE.ledger, info=info, model=model,
    )  # fmt: skip
    found = {(v.event_id, v.kind, v.category) for v in result.violations}
    assert_matches_expected(found, result.violations, SAMPLE)
    return found


def assert_matches_expected(found: Violations, records: list[Violation], sample: Sample) -> None:
    """The sample's expected claims (by utterance) and checks (by listing), and nothing else, on any
    x86 CPU: the words Whisper writes differ between CPUs (docs/speech.md), the claims must not."""
    spans = [(s["start"], s["end"]) for s in sample.timeline]
    heard = set()
    for v in records:
        if v.kind == "claim":
            (index,) = [i for i, (start, end) in enumerate(spans) if start - 1.0 <= v.offset_s <= end]
            heard.add((index, v.category))
    expected = {(item["segment"], c) for item in sample.expected["claims"] for c in item["categories"]}
    assert heard == expected, f"not heard: {expected - heard}; not made: {heard - expected}"
    checks = {(v.listing_id, v.category) for v in records if v.kind != "claim"}
    assert checks == {(c["listing_id"], c["category"]) for c in sample.expected["checks"]}
    assert len(found) == len(records)


@pytest.fixture
def server_settings(clickhouse_server: ClickHouseServer, tmp_path: Path) -> Settings:
    return load_settings(
        warehouse="server", clickhouse_port=clickhouse_server.port, clickhouse_database=unique_database(),
        data_dir=tmp_path, topic_partitions=4,
    )  # fmt: skip


@pytest.fixture
def server_store(server_settings: Settings) -> Iterator[Store]:
    with open_store(server_settings) as store:
        yield store


@pytest.fixture
def env(server_settings: Settings, own_broker: str) -> dict[str, str]:
    """The environment of `claimwatch` processes on the server warehouse, the sample's ledger imported."""
    env = env_of(server_settings, own_broker)
    claimwatch(env, "ledger", "import", str(SAMPLE.ledger), "--mcn-id", SAMPLE.mcn_id)
    return env


def test_embedded_pipeline_matches_analyze_and_alerts_the_mcn(
    reference: Violations,
    model: models.LoadedModel,
    embedded_dir: Path,
    own_broker: str,
    tmp_path: Path,
) -> None:
    """tansu + chdb, the worker in this process (what `claimwatch demo` runs), a real webhook."""
    with webhook() as (url, received):
        alerts = tmp_path / "alerts.yaml"
        alerts.write_text(f"{SAMPLE.mcn_id}:\n  - url: {url}\n    format: wecom\n", encoding="utf-8")
        settings = load_settings(
            data_dir=embedded_dir, clickhouse_database=unique_database(), broker_session_timeout_s=6,
            topic_partitions=4, alerts_file=alerts,
        )  # fmt: skip
        with open_store(settings) as store:
            run = stream_sample(settings, store, own_broker, realtime=False, say=lambda _line: None)
            assert violations(store) == reference
            assert len(run.violations) == len(reference)
            segments = store.query("SELECT count() AS n FROM transcripts FINAL")[0]["n"]
            assert segments == run.ingest.pieces  # a segment per speech piece, none doubled
            high = [v for v in run.violations if v["severity"] == "high"]
        assert read_dead_letters(own_broker, timeout_s=3) == []  # well-formed input: every record handled
        wait_for(
            lambda: len(received) >= len(high), timeout_s=10, why=lambda: f"{len(received)} of {len(high)}"
        )
    assert len(received) == len(high) > 0
    assert all(body["msgtype"] == "markdown" for _, body in received)
    assert any("全网最低价" in body["markdown"]["content"] for _, body in received)


def test_a_running_worker_learns_ledger_rows_from_the_ledger_topic(
    model: models.LoadedModel, embedded_dir: Path, own_broker: str
) -> None:
    settings = load_settings(
        data_dir=embedded_dir,
        clickhouse_database=unique_database(),
        broker_session_timeout_s=6,
        topic_partitions=4,
    )
    entries = read_ledger(SAMPLE.ledger, load_rules(), mcn_id=SAMPLE.mcn_id).entries
    with open_store(settings) as store:
        runtime = create_runtime(settings, store, model=model)
        assert runtime.monitor.ledger_entry(SAMPLE.mcn_id, "P-1001") is None  # not in the warehouse

        async def scenario() -> None:
            ensure_topics(own_broker, settings.topic_partitions)
            async with running(build(settings, own_broker, runtime)):
                await asyncio.to_thread(publish_ledger, own_broker, settings.topic_partitions, entries)
                for _ in range(300):
                    if all(runtime.monitor.ledger_entry(e.mcn_id, e.product_id) for e in entries):
                        return
                    await asyncio.sleep(0.1)
                raise AssertionError("the worker never saw the ledger rows")

        asyncio.run(scenario())


def test_a_batch_failing_with_an_error_no_check_expects_is_dead_lettered_not_crashed_past(
    model: models.LoadedModel, embedded_dir: Path, own_broker: str
) -> None:
    """A bug in a batch (injected: the claims step of the first batch raises) sends its pieces to
    the dead letters with the reason, and the agent goes on. Left to faust, the agent crashed and
    was restarted past its unacked pieces, and acking the next ones could commit past them."""
    settings = load_settings(
        data_dir=embedded_dir,
        clickhouse_database=unique_database(),
        broker_session_timeout_s=6,
        topic_partitions=4,
    )
    with open_store(settings) as store:
        runtime = create_runtime(settings, store, model=model)
        checked = runtime.on_segments
        calls: list[int] = []

        def first_fails(segments: list[Any]) -> list[Violation]:
            calls.append(len(segments))
            if len(calls) == 1:
                raise RuntimeError("injected")
            return checked(segments)

        runtime.on_segments = first_fails  # type: ignore[method-assign]

        def piece(seq: int) -> AudioChunk:
            return AudioChunk(
                "bug-1", seq, float(seq), 16_000, b"\0\0" * 16_000, anchor_id="a1", mcn_id="m1",
                started_at=SAMPLE.started_at,
            )  # fmt: skip

        async def scenario() -> None:
            ensure_topics(own_broker, settings.topic_partitions)
            publisher = Publisher(own_broker, settings.topic_partitions)
            async with running(build(settings, own_broker, runtime)):
                for seq in (0, 1):
                    publisher.send(topics.AUDIO, "bug-1", piece(seq))
                    await asyncio.to_thread(publisher.flush)
                    for _ in range(600):
                        if runtime.counts["pieces"] > seq:
                            break
                        await asyncio.sleep(0.1)
                await asyncio.sleep(1)

        asyncio.run(scenario())
    letters = read_dead_letters(own_broker, timeout_s=10)
    assert [(d.topic, d.reason) for d in letters] == [
        (topics.AUDIO, "not processed, an internal error: RuntimeError: injected")
    ]
    assert len(calls) == 2  # the next batch was processed
    assert runtime.counts["pieces"] == 2


def test_demo_command_on_a_fresh_data_directory(tmp_path: Path) -> None:
    """The README's main command, as a user runs it (without serving the console)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMWATCH_")}
    env["CLAIMWATCH_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", "--no-serve"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (count,) = re.findall(r"^(\d+) violations in demo-001", done.stdout, re.MULTILINE)
    expected = sum(len(c["categories"]) for c in SAMPLE.expected["claims"]) + len(SAMPLE.expected["checks"])
    assert int(count) == expected, done.stdout
    assert "summary by kind:" in done.stdout
    assert "efficacy_without_registration" in done.stdout
    assert (tmp_path / "data" / "audio" / "demo-001.ogg").stat().st_size > 100_000


def test_server_pipeline_matches_analyze(
    reference: Violations,
    server_store: Store,
    own_broker: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """tansu + clickhouse-server 18.16, a `claimwatch worker` process, the CLI for everything else."""
    with workers(env, tmp_path) as (worker,):
        ingest_sample(env, SAMPLE)
        wait_for(
            lambda: stream_finished(server_store, SAMPLE.stream_id, reference), timeout_s=240,
            why=lambda: f"stored {violations(server_store)} vs {reference}\n{worker.output()[-3000:]}",
        )  # fmt: skip
        time.sleep(3)  # nothing more arrives
        assert violations(server_store) == reference
        # the stream-end record released the stream's state in the worker
        wait_for(
            lambda: f"stream {SAMPLE.stream_id} ended at" in worker.output(), timeout_s=30, why=worker.output
        )
    assert read_dead_letters(own_broker, timeout_s=3) == []  # well-formed input: every record handled


@pytest.mark.cluster
def test_cluster_pipeline_matches_analyze(
    reference: Violations, clickhouse_cluster: ClickHouseCluster, own_broker: str, tmp_path: Path
) -> None:
    """tansu + the 2 × 2 ClickHouse cluster (tests/cluster.py), a `claimwatch worker` process and the
    CLI writing through Distributed tables: the stored violations are analyze's, once each, on
    both replicas of the shard the stream hashes to."""
    settings = load_settings(
        warehouse="server", clickhouse_port=clickhouse_cluster.entry.port,
        clickhouse_database=unique_database(), clickhouse_cluster=clickhouse_cluster.name,
        data_dir=tmp_path, topic_partitions=4,
    )  # fmt: skip
    env = env_of(settings, own_broker)
    with open_store(settings) as store:
        claimwatch(env, "ledger", "import", str(SAMPLE.ledger), "--mcn-id", SAMPLE.mcn_id)
        with workers(env, tmp_path) as (worker,):
            ingest_sample(env, SAMPLE)
            wait_for(
                lambda: stream_finished(store, SAMPLE.stream_id, reference), timeout_s=240,
                why=lambda: f"stored {violations(store)} vs {reference}\n{worker.output()[-3000:]}",
            )  # fmt: skip
            time.sleep(3)  # nothing more arrives
            assert violations(store) == reference
        rows = store.query("SELECT count() AS n, uniqExact(event_id) AS u FROM violations FINAL")[0]
        assert rows["n"] == rows["u"] == len(reference)
        (shard,) = store.query("SELECT cityHash64(%(s)s) % 2 + 1 AS n", {"s": SAMPLE.stream_id})
    for node in clickhouse_cluster.shard_nodes(int(shard["n"])):
        on_node = load_settings(
            warehouse="server", clickhouse_port=node.port, clickhouse_database=settings.clickhouse_database
        )
        with open_store(on_node, migrate=False) as local:
            local.command("SYSTEM SYNC REPLICA violations_local")
            held = local.query("SELECT count() AS n FROM violations_local FINAL")[0]["n"]
            assert held == len(reference), f"replica s{node.shard}r{node.replica} holds {held}"


def test_worker_killed_mid_stream_loses_and_doubles_nothing(
    reference: Violations,
    server_store: Store,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    with workers(env, tmp_path) as (first,):
        feeder = threading.Thread(target=ingest_sample, args=(env, SAMPLE), kwargs={"realtime": True})
        feeder.start()
        wait_for(lambda: len(violations(server_store)) >= 3, timeout_s=180, why=first.output)
        first.kill()  # mid-stream: pieces keep arriving while no worker runs
        killed_with = violations(server_store)
        assert killed_with < reference
    (tmp_path / "again").mkdir()
    with workers(env, tmp_path / "again"):
        feeder.join()
        wait_for(
            lambda: stream_finished(server_store, SAMPLE.stream_id, reference), timeout_s=240,
            why=lambda: f"stored {violations(server_store)} vs {reference}",
        )  # fmt: skip
        time.sleep(3)
    assert violations(server_store) == reference
    rows = server_store.query("SELECT count() AS n, uniqExact(event_id) AS u FROM violations FINAL")[0]
    assert rows["n"] == rows["u"] == len(reference)


def test_clickhouse_down_for_30_s_mid_stream_loses_nothing(
    reference: Violations, own_broker: str, tmp_path: Path
) -> None:
    server = ClickHouseServer(tmp_path / "ch").start()
    settings = load_settings(
        warehouse="server", clickhouse_port=server.port, clickhouse_database="outage", data_dir=tmp_path,
        topic_partitions=4,
    )  # fmt: skip
    try:
        with open_store(settings) as store:
            env = env_of(settings, own_broker)
            claimwatch(env, "ledger", "import", str(SAMPLE.ledger), "--mcn-id", SAMPLE.mcn_id)
            with workers(env, tmp_path) as (worker,):
                feeder = threading.Thread(target=ingest_sample, args=(env, SAMPLE), kwargs={"realtime": True})
                feeder.start()
                wait_for(lambda: len(violations(store)) >= 2, timeout_s=180, why=worker.output)
                server.stop()
                time.sleep(30)
                assert worker.alive()
                server.start()
                feeder.join()
                wait_for(
                    lambda: stream_finished(store, SAMPLE.stream_id, reference), timeout_s=240,
                    why=lambda: f"stored {violations(store)} vs {reference}\n{worker.output()[-3000:]}",
                )  # fmt: skip
                time.sleep(3)
            assert violations(store) == reference
    finally:
        server.stop()


def test_malformed_messages_become_dead_letters_and_the_stream_goes_on(
    reference: Violations,
    server_store: Store,
    own_broker: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    wrong_rate = {"stream_id": "x", "seq": 0, "offset_s": 0, "sample_rate_hz": 8000, "pcm": "AAAA"}
    unannounced = {
        "stream_id": "never-announced",
        "seq": 0,
        "offset_s": 0,
        "sample_rate_hz": 16000,
        "pcm": "AAAA",
    }
    bad_start = {"stream_id": "x", "anchor_id": "a", "mcn_id": "m", "started_at": "yesterday"}
    bad = {
        "audio.chunks": [b"{not json", json.dumps(wrong_rate).encode(), json.dumps(unannounced).encode()],
        "listings": [json.dumps({"stream_id": "x", "event": "explain"}).encode(), b"\xff\xfe"],
        "streams": [json.dumps(bad_start).encode()],
    }
    with workers(env, tmp_path) as (worker,):
        with Publisher(own_broker, int(env["CLAIMWATCH_TOPIC_PARTITIONS"])) as publisher:
            for topic, messages in bad.items():
                for message in messages:
                    publisher.send_raw(topic, b"x", message)
        ingest_sample(env, SAMPLE)
        wait_for(
            lambda: stream_finished(server_store, SAMPLE.stream_id, reference), timeout_s=240,
            why=lambda: worker.output()[-3000:],
        )  # fmt: skip
        assert worker.alive()
    letters = read_dead_letters(own_broker)
    reasons = {(letter.topic, letter.reason) for letter in letters}
    assert {topic for topic, _ in reasons} == set(bad)
    assert sum(len(m) for m in bad.values()) == len(letters)
    assert any("not valid JSON" in r for t, r in reasons if t == "audio.chunks")
    assert any("8000 Hz" in r for t, r in reasons if t == "audio.chunks")
    assert any("is required" in r for t, r in reasons if t == "listings")
    assert any("never-announced" in r for t, r in reasons if t == "audio.chunks")
    assert any("not valid JSON" in r for t, r in reasons if t == "listings")
    assert any("'started_at'" in r for t, r in reasons if t == "streams")
    shown = claimwatch(env, "deadletter", "list").stdout
    assert f"{len(letters)} dead letter(s)" in shown
    assert "is required" in shown


def test_two_workers_share_the_partitions(
    reference: Violations,
    server_settings: Settings,
    server_store: Store,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    streams = [f"shared-{i}" for i in range(3)]
    with workers(env, tmp_path, count=2) as pair:
        wait_for(lambda: all("owns audio.chunks partitions" in w.output() for w in pair), timeout_s=120)
        time.sleep(8)  # the second join settles
        for stream in streams:
            ingest_sample(env, SAMPLE, stream_id=stream)
        for stream in streams:
            wait_for(
                lambda s=stream: _complete(server_store, s, len(reference)), timeout_s=300,
                why=lambda: "\n".join(w.output()[-2000:] for w in pair),
            )  # fmt: skip
        owned = [_last_assignment(w.output()) for w in pair]
    assert all(owned), owned
    assert not set(owned[0]) & set(owned[1])
    assert set(owned[0]) | set(owned[1]) == set(range(server_settings.topic_partitions))
    kinds = {(k, c) for _, k, c in reference}
    for stream in streams:
        assert {(k, c) for _, k, c in violations(server_store, stream)} == kinds


def _complete(store: Store, stream_id: str, count: int) -> bool:
    return stream_finished(store, stream_id, set()) and len(violations(store, stream_id)) == count


def _last_assignment(log: str) -> list[int]:
    found = re.findall(r"owns audio\.chunks partitions (\[[\d, ]*\])", log)
    return json.loads(found[-1]) if found else []


def test_workers_joining_and_dying_mid_stream_rebalance_without_loss_or_duplicates(
    reference: Violations,
    server_settings: Settings,
    server_store: Store,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    streams = [f"scale-{i}" for i in range(3)]
    first = Worker(env, tmp_path / "first.log").start()
    second = Worker(env, tmp_path / "second.log")
    try:
        feeders = [
            threading.Thread(
                target=ingest_sample, args=(env, SAMPLE), kwargs={"stream_id": s, "realtime": True}
            )
            for s in streams
        ]
        for feeder in feeders:
            feeder.start()
        wait_for(lambda: len(violations(server_store)) >= 3, timeout_s=180, why=first.output)
        second.start()  # joins mid-stream: the partitions are shared out again
        wait_for(lambda: _last_assignment(second.output()), timeout_s=120, why=second.output)
        first.kill()  # dies mid-stream: the second takes every partition
        wait_for(
            lambda: len(_last_assignment(second.output())) == server_settings.topic_partitions,
            timeout_s=120, why=second.output,
        )  # fmt: skip
        for feeder in feeders:
            feeder.join()
        for stream in streams:
            wait_for(
                lambda s=stream: _complete(server_store, s, len(reference)), timeout_s=300,
                why=lambda: second.output()[-3000:],
            )  # fmt: skip
        time.sleep(3)
    finally:
        first.kill()
        second.stop()
    first.assert_no_agent_crashed()
    second.assert_no_agent_crashed()
    rows = server_store.query("SELECT count() AS n, uniqExact(event_id) AS u FROM violations FINAL")[0]
    assert rows["n"] == rows["u"] == len(reference) * len(streams)
    kinds = sorted((k, c) for _, k, c in reference)
    for stream in streams:
        assert sorted((k, c) for _, k, c in violations(server_store, stream)) == kinds
