"""Chaos: live streams through the pipeline while workers, the broker and ClickHouse are killed.

    python -m bench.chaos [--streams 3] [--workers 2] [--kills 20] [--seed 1]

Real parts only: a tansu broker whose topics live in S3 (an in-memory moto S3 server, so a killed
broker comes back with its topics, offsets and consumer groups), a clickhouse-server 18.16, and
``--workers`` `claimwatch worker` processes. ``--streams`` copies of the sample stream (each its
own stream id) are ingested at real time (`claimwatch ingest audio --realtime`, one process each)
while, every 3 to 9 s, one of them is killed with SIGKILL, chosen at random (seeded): a worker
(restarted 1-4 s later), the broker (restarted 2-6 s later on the same port and storage) or
ClickHouse (restarted 3-12 s later on the same data). Kills go on until ``--kills`` were made and
every ingest ended; then the pipeline gets time to catch up.

The stored violations (``FINAL``) are compared with `claimwatch analyze` of each stream on this
machine, the same event ids:

* lost: violations analyze finds that the warehouse does not hold;
* duplicated: violations stored that analyze does not find, plus rows that FINAL did not fold;
* misplaced: violations stored with another listing than analyze gives them (the product on
  stage when the claim was said: a stream restored without its stage changes gets it wrong);
* crashed: worker processes that exited without being killed, agents that crashed (faust logs
  "Crashed reason="), and ingest processes that failed;
* dead-lettered: records a worker set aside as bad (none of the sample's is).

The last line reads ``lost 0 / duplicated 0 / misplaced 0 / crashed 0 / dead-lettered 0 over K
kills`` when nothing went wrong (when something was lost, the workers' committed offsets and the
records on each topic are printed before it)
(docs/architecture.md, "Chaos").
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline.config import Settings, load_settings
from pipeline.records import StreamInfo
from pipeline.sample import Sample, load_sample
from pipeline.speech import models
from pipeline.stream import topics
from pipeline.stream.analyze import analyze
from pipeline.stream.broker import EmbeddedBroker, free_port, wait_for_port
from pipeline.stream.publish import read_dead_letters
from pipeline.warehouse import Store, open_store
from tests.pipeline_harness import Violations, Worker, claimwatch, env_of, ingest_sample, violations
from tests.services import ClickHouseServer

BUCKET = "tansu"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "chaos",
    "AWS_SECRET_ACCESS_KEY": "chaos",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}


@dataclass
class Outcome:
    """What a chaos run found, against analyze."""

    lost: int
    duplicated: int
    crashed: int
    kills: Counter[str]
    streams: int
    expected: int
    missing: tuple[tuple[str, str, str], ...] = ()  # (event id, kind, category) analyze found, not stored
    misplaced: tuple[tuple[str, str | None, str | None], ...] = ()  # (event id, listing: analyze, stored)
    dead_letters: tuple[str, ...] = ()  # "topic: reason" of each record a worker set aside

    def line(self) -> str:
        kills = sum(self.kills.values())
        line = (
            f"lost {self.lost} / duplicated {self.duplicated} / misplaced {len(self.misplaced)} / "
            f"crashed {self.crashed} / dead-lettered {len(self.dead_letters)} over {kills} kills"
        )
        lost = [f"\n  lost: {kind} {category} {event_id}" for event_id, kind, category in self.missing]
        placed = [f"\n  misplaced: {e} on {want}, stored on {got}" for e, want, got in self.misplaced]
        letters = [f"\n  dead letter: {letter}" for letter in self.dead_letters]
        return line + "".join(lost) + "".join(placed) + "".join(letters)

    def summary(self) -> str:
        """:meth:`line` on one line (what a test report keeps of an assertion message)."""
        return self.line().replace("\n  ", "; ")

    @property
    def clean(self) -> bool:
        counts = (self.lost, self.duplicated, len(self.misplaced), self.crashed, len(self.dead_letters))
        return counts == (0, 0, 0, 0, 0)


@contextmanager
def s3_server(root: Path) -> Iterator[str]:
    """An in-memory S3 (moto's server) on a free port, with the broker's bucket: its endpoint."""
    port = free_port()
    with open(root / "moto.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port("127.0.0.1", port, 30.0, process)
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_ENV["AWS_DEFAULT_REGION"],
        )
        client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def durable_broker(root: Path, endpoint: str, port: int | None = None) -> EmbeddedBroker:
    """A tansu broker storing its topics in the S3 bucket (started; restart it with the same port)."""
    os.environ.update(S3_ENV, AWS_ENDPOINT=endpoint)  # tansu reads its S3 settings from the environment
    return EmbeddedBroker(port, log_path=root / "tansu.log", storage=f"s3://{BUCKET}/").start()


def references(
    settings: Settings, sample: Sample, stream_ids: list[str], root: Path
) -> tuple[dict[str, Violations], dict[str, str | None]]:
    """`claimwatch analyze` of each stream: the violations the pipeline must store, by stream, and
    the listing each is placed on (event id → listing id)."""
    model = models.load(settings)
    out: dict[str, Violations] = {}
    placed: dict[str, str | None] = {}
    for stream_id in stream_ids:
        listings = root / f"listings-{stream_id}.jsonl"
        listings.write_text(
            sample.listings.read_text(encoding="utf-8").replace(sample.stream_id, stream_id), encoding="utf-8"
        )
        info = StreamInfo(stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
        found = analyze(
            settings, audio=sample.audio, listings=listings, ledger=sample.ledger, info=info, model=model
        )
        out[stream_id] = {(v.event_id, v.kind, v.category) for v in found.violations}
        placed.update({v.event_id: v.listing_id for v in found.violations})
        print(f"analyze {stream_id}: {len(out[stream_id])} violations", flush=True)
    return out, placed


@dataclass
class Cluster:
    """The services a chaos run kills and restarts."""

    root: Path
    endpoint: str
    broker: EmbeddedBroker
    clickhouse: ClickHouseServer  # restarted on the same port and data: ``settings`` stay true
    settings: Settings
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)
    started: int = 0

    def start_worker(self) -> Worker:
        self.started += 1
        worker = Worker(self.env, self.root / f"worker-{self.started}.log").start()
        self.workers.append(worker)
        return worker

    def kill(self, victim: str, rng: random.Random) -> str:
        """Kill one part with SIGKILL and bring it back after a random while; what was done."""
        if victim == "worker":
            live = [w for w in self.workers if w.alive()]
            if not live:
                return "no worker alive to kill (they exited on their own: see crashed)"
            target = rng.choice(live)
            target.kill()
            self.workers.remove(target)
            pause = rng.uniform(1.0, 4.0)
            time.sleep(pause)
            self.start_worker()
        elif victim == "broker":
            self.broker.kill()
            pause = rng.uniform(2.0, 6.0)
            time.sleep(pause)
            self.broker = durable_broker(self.root, self.endpoint, self.broker.port)
        else:
            self.clickhouse.kill()
            pause = rng.uniform(3.0, 12.0)
            time.sleep(pause)
            self.clickhouse.start()
        return f"{victim} killed, back after {pause:.1f} s"

    def exited(self) -> list[Worker]:
        """Workers that exited on their own (not killed here)."""
        return [w for w in self.workers if not w.alive()]

    def crashed_workers(self) -> int:
        """Workers that exited on their own, and agents that crashed in any worker's log."""
        exited = len(self.exited())
        crashes = sum(
            line.count("Crashed reason=")
            for log in self.root.glob("worker-*.log")
            for line in log.read_text(errors="replace").splitlines()
        )
        return exited + crashes


def run(streams: int, worker_count: int, kills: int, seed: int, root: Path) -> Outcome:
    sample = load_sample()
    stream_ids = [f"chaos-{seed}-{i}" for i in range(streams)]
    clickhouse = ClickHouseServer(root / "clickhouse").start()
    settings = load_settings(
        warehouse="server",
        clickhouse_port=clickhouse.port,
        clickhouse_database="chaos",
        data_dir=root,
        topic_partitions=4,
    )
    expected, placed = references(settings, sample, stream_ids, root)
    with s3_server(root) as endpoint:
        broker = durable_broker(root, endpoint)
        env = env_of(settings, broker.bootstrap)
        env["CLAIMWATCH_WAREHOUSE_RETRIES"] = "4"
        cluster = Cluster(root, endpoint, broker, clickhouse, settings, env)
        try:
            claimwatch(env, "ledger", "import", str(sample.ledger), "--mcn-id", sample.mcn_id)
            for _ in range(worker_count):
                cluster.start_worker()
            outcome = _chaos(
                cluster,
                sample,
                stream_ids=stream_ids,
                expected=expected,
                placed=placed,
                kills=kills,
                rng=random.Random(seed),
            )
        finally:
            for worker in cluster.workers:
                worker.stop()
            cluster.broker.stop()
            cluster.clickhouse.stop()
    return outcome


def _chaos(
    cluster: Cluster,
    sample: Sample,
    *,
    stream_ids: list[str],
    expected: dict[str, Violations],
    placed: dict[str, str | None],
    kills: int,
    rng: random.Random,
) -> Outcome:
    failures: list[str] = []

    def feed(stream_id: str) -> None:
        try:
            ingest_sample(cluster.env, sample, stream_id=stream_id, realtime=True)
        except AssertionError as exc:  # claimwatch() failed: the ingest process exited non-zero
            failures.append(f"{stream_id}: {str(exc)[-500:]}")

    feeders = [threading.Thread(target=feed, args=(s,)) for s in stream_ids]
    for feeder in feeders:
        feeder.start()
        time.sleep(rng.uniform(0.5, 3.0))
    made: Counter[str] = Counter()
    reported: set[str] = set()
    began = time.monotonic()
    while sum(made.values()) < kills or any(f.is_alive() for f in feeders):
        time.sleep(rng.uniform(3.0, 9.0))
        victim = rng.choices(["worker", "broker", "clickhouse"], weights=[2, 1, 1])[0]
        print(f"{time.monotonic() - began:6.1f} s  {cluster.kill(victim, rng)}", flush=True)
        made[victim] += 1
        for worker in cluster.exited():
            if worker.log.name not in reported:
                reported.add(worker.log.name)
                print(f"{worker.log.name} exited on its own:\n{worker.output()[-1500:]}", flush=True)
    for feeder in feeders:
        feeder.join()
    reference = set().union(*expected.values())
    with open_store(cluster.settings) as store:
        stored = _settle(store, reference)
        unfolded = _unfolded(store)
        stored_on = {
            r["event_id"]: r["listing_id"]
            for r in store.query("SELECT event_id, listing_id FROM violations FINAL")
        }
    for failure in failures:
        print(f"ingest failed: {failure}", flush=True)
    letters = read_dead_letters(cluster.broker.bootstrap)
    if reference - stored:  # where the workers' group stands on each topic, records counted
        print(offsets_report(cluster.broker.bootstrap), flush=True)
    return Outcome(
        lost=len(reference - stored),
        missing=tuple(sorted(reference - stored)),
        misplaced=tuple(
            sorted(
                (e, want, stored_on[e])
                for e, want in placed.items()
                if e in stored_on and stored_on[e] != want
            )
        ),
        duplicated=len(stored - reference) + unfolded,
        crashed=cluster.crashed_workers() + len(failures),
        kills=made,
        streams=len(stream_ids),
        expected=len(reference),
        dead_letters=tuple(f"{letter.topic}: {letter.reason}" for letter in letters),
    )


def offsets_report(bootstrap: str) -> str:
    """The workers' committed offset and the records read back, per partition of the topics the
    workers consume (what a loss needs explained: records never read, or read and committed)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        committed = admin.list_consumer_group_offsets(topics.APP_ID)
        lines = []
        for topic in (topics.STREAMS, topics.LISTINGS, topics.AUDIO):
            numbers = sorted(consumer.partitions_for_topic(topic) or ())
            partitions = [TopicPartition(topic, p) for p in numbers]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            read = Counter(message.partition for message in consumer)
            for tp in partitions:
                at = committed.get(tp)
                lines.append(f"  {topic}[{tp.partition}]: {read[tp.partition]} records, committed "
                             f"{at.offset if at else None}")  # fmt: skip
        return "offsets of the workers' group:\n" + "\n".join(lines)
    finally:
        consumer.close()
        admin.close()


def _settle(store: Store, reference: Violations, timeout_s: float = 300.0) -> Violations:
    """The stored violations once the pipeline caught up (all found, or nothing new for 60 s)."""
    deadline = time.monotonic() + timeout_s
    last: Violations = set()
    changed = time.monotonic()
    while time.monotonic() < deadline:
        stored = violations(store)
        if stored != last:
            last, changed = stored, time.monotonic()
        if reference <= stored or time.monotonic() - changed > 60.0:
            break
        time.sleep(2.0)
    time.sleep(5.0)  # anything late still lands
    return violations(store)


def _unfolded(store: Store) -> int:
    """Rows FINAL left doubled (the same event id twice)."""
    rows = store.query("SELECT count() AS n, uniqExact(event_id) AS u FROM violations FINAL")
    return int(rows[0]["n"]) - int(rows[0]["u"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=3, help="concurrent real-time streams")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--kills", type=int, default=20, help="kills to make, at least")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill schedule")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="claimwatch-chaos-"))
    outcome = run(args.streams, args.workers, args.kills, args.seed, root)
    if outcome.clean:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"logs kept in {root}")
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(outcome.kills.items()))
    print(f"{outcome.streams} streams, {outcome.expected} violations expected; kills: {kinds}")
    print(outcome.line())


if __name__ == "__main__":
    main()
