"""Failures an operator meets, on real services (tansu, clickhouse-server): nothing lost, nothing wedged.

- ClickHouse stopped while a listing of a stream no worker has seen arrives: restoring that stream
  needs the warehouse; the event waits (without holding up the other agents) and is checked once
  the warehouse is back;
- a worker started while ClickHouse or the broker is down: it waits for it, then works;
- a worker joining after several ledger imports: table recovery on a broker whose end offsets count
  record batches (tansu) must not take any worker down, and every worker checks against the
  latest ledger.

Listing events only (no audio): the checks are computed in-process for the expected violations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.checks.monitor import build_monitor
from pipeline.config import Settings, load_settings
from pipeline.records import ListingEvent, Violation, decode
from pipeline.sample import load_sample
from pipeline.stream import topics
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.publish import Publisher
from pipeline.warehouse import Store, open_store
from pipeline.warehouse.ledger import current_ledger
from tests.conftest import unique_database
from tests.pipeline_harness import (
    Violations,
    Worker,
    claimwatch,
    env_of,
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


@pytest.fixture
def own_clickhouse(tmp_path: Path) -> Iterator[tuple[ClickHouseServer, Settings]]:
    """A clickhouse-server of this test alone (the test stops and starts it) and its settings."""
    server = ClickHouseServer(tmp_path / "ch").start()
    try:
        yield server, load_settings(
            warehouse="server", clickhouse_port=server.port, clickhouse_database="outage",
            data_dir=tmp_path, topic_partitions=4,
        )  # fmt: skip
    finally:
        server.stop()


def listings_of(stream_id: str, folder: Path) -> tuple[Path, list[ListingEvent]]:
    """The sample's listing events for another stream id: the file and its events."""
    text = SAMPLE.listings.read_text(encoding="utf-8").replace(SAMPLE.stream_id, stream_id)
    path = folder / f"listings-{stream_id}.jsonl"
    path.write_text(text, encoding="utf-8")
    return path, [decode(ListingEvent, line) for line in text.splitlines() if line.strip()]


def expected_checks(store: Store, events: list[ListingEvent]) -> Violations:
    """What the listing checks give for these events against the warehouse's current ledger."""
    monitor = build_monitor()
    monitor.load_ledger(current_ledger(store))
    found = [v for event in events for v in monitor.on_listing(event)]
    return {(v.event_id, v.kind, v.category) for v in found}


def stored_listings(store: Store, stream_id: str) -> int:
    rows = store.query("SELECT count() AS n FROM listings FINAL WHERE stream_id = %(s)s", {"s": stream_id})
    return int(rows[0]["n"])


def assigned(worker: Worker) -> bool:
    return "owns audio.chunks partitions" in worker.output()


# ---------------------------------------------------------------------------------------------
# ClickHouse down while a new stream is restored


def a_high_violation(events: list[ListingEvent]) -> Violation:
    """A high-severity violation record of these events (any will do: it is only alerted)."""
    monitor = build_monitor()
    found = [v for event in events for v in monitor.on_listing(event)]
    return replace(found[0], severity="high", event_id="alert-probe")


def test_clickhouse_down_while_a_new_stream_is_restored_loses_and_stalls_nothing(
    own_broker: str, own_clickhouse: tuple[ClickHouseServer, Settings], tmp_path: Path
) -> None:
    server, settings = own_clickhouse
    stream_id = "fresh-001"
    path, events = listings_of(stream_id, tmp_path)
    with webhook() as (url, received), open_store(settings) as store:
        alerts = tmp_path / "alerts.yaml"
        alerts.write_text(f"{SAMPLE.mcn_id}:\n  - url: {url}\n", encoding="utf-8")
        env = env_of(settings, own_broker)
        for name in ("CLAIMWATCH_WAREHOUSE_RETRIES", "CLAIMWATCH_WAREHOUSE_BACKOFF_S"):
            del env[name]  # the defaults: a store gives up after ~15 s of retries
        env["CLAIMWATCH_ALERTS_FILE"] = str(alerts)
        claimwatch(env, "ledger", "import", str(SAMPLE.ledger), "--mcn-id", SAMPLE.mcn_id)
        expected = expected_checks(store, events)
        assert any(category == "off_ledger" for _, _, category in expected)
        with workers(env, tmp_path) as (worker,):
            wait_for(lambda: assigned(worker), timeout_s=120, why=worker.output)
            time.sleep(5)  # the assignment settles
            server.stop()
            down_at = time.monotonic()
            claimwatch(env, "ingest", "listings", str(path))  # a stream the worker has never seen
            time.sleep(3)  # its restore is waiting on the warehouse
            with Publisher(own_broker, settings.topic_partitions) as publisher:
                publisher.send(topics.VIOLATIONS, stream_id, a_high_violation(events))
            sent_at = time.monotonic()
            # the alert agent goes on while the monitor agent waits for the warehouse
            wait_for(lambda: received, timeout_s=8, every_s=0.2, why=lambda: worker.output()[-3000:])
            assert received[0][0] - sent_at < 8
            time.sleep(max(0.0, 35 - (time.monotonic() - down_at)))  # past the store's retries
            assert worker.alive()
            server.start()
            wait_for(
                lambda: violations(store, stream_id) == expected, timeout_s=120,
                why=lambda: f"{violations(store, stream_id)} vs {expected}\n{worker.output()[-3000:]}",
            )  # fmt: skip
            wait_for(
                lambda: stored_listings(store, stream_id) == len(events), timeout_s=60,
                why=lambda: f"{stored_listings(store, stream_id)} of {len(events)} listing events stored",
            )  # fmt: skip
            time.sleep(3)
            assert violations(store, stream_id) == expected
            assert worker.alive()


def test_a_worker_stopped_while_a_restore_waits_leaves_the_event_to_the_next(
    own_broker: str, own_clickhouse: tuple[ClickHouseServer, Settings], tmp_path: Path
) -> None:
    server, settings = own_clickhouse
    stream_id = "fresh-002"
    path, events = listings_of(stream_id, tmp_path)
    with open_store(settings) as store:
        env = env_of(settings, own_broker)
        claimwatch(env, "ledger", "import", str(SAMPLE.ledger), "--mcn-id", SAMPLE.mcn_id)
        expected = expected_checks(store, events)
        with workers(env, tmp_path) as (first,):
            wait_for(lambda: assigned(first), timeout_s=120, why=first.output)
            time.sleep(5)  # the assignment settles
            server.stop()
            claimwatch(env, "ingest", "listings", str(path))
            wait_for(lambda: "store unreachable" in first.output(), timeout_s=60, why=first.output)
            stopping = time.monotonic()
            first.stop()  # SIGTERM while the event waits: it must not be committed
            assert time.monotonic() - stopping < 25, "the worker did not stop by itself"
        server.start()
        (tmp_path / "again").mkdir()
        with workers(env, tmp_path / "again") as (second,):
            wait_for(
                lambda: stored_listings(store, stream_id) == len(events), timeout_s=120,
                why=lambda: f"{stored_listings(store, stream_id)} of {len(events)} stored\n"
                + second.output()[-3000:],
            )  # fmt: skip
            wait_for(lambda: violations(store, stream_id) == expected, timeout_s=30)


def test_a_worker_started_while_clickhouse_is_down_waits_for_it(
    own_broker: str, own_clickhouse: tuple[ClickHouseServer, Settings], tmp_path: Path
) -> None:
    """A worker (re)started during an outage (a supervisor restarting it, bench/chaos.py) waits for
    the warehouse and then works; it does not exit on the store's spent retries."""
    server, settings = own_clickhouse
    stream_id = "fresh-003"
    path, events = listings_of(stream_id, tmp_path)
    with open_store(settings) as store:
        env = env_of(settings, own_broker)  # the store gives up after 2 retries of 0.2 s, 0.4 s
        claimwatch(env, "ledger", "import", str(SAMPLE.ledger), "--mcn-id", SAMPLE.mcn_id)
        expected = expected_checks(store, events)
        server.stop()
        with workers(env, tmp_path) as (worker,):
            wait_for(lambda: "waiting for the warehouse" in worker.output(), timeout_s=60, why=worker.output)
            time.sleep(5)  # several of the store's rounds of retries spent
            assert worker.alive(), worker.output()[-3000:]
            server.start()
            wait_for(lambda: assigned(worker), timeout_s=120, why=worker.output)
            claimwatch(env, "ingest", "listings", str(path))
            wait_for(
                lambda: violations(store, stream_id) == expected, timeout_s=120,
                why=lambda: f"{violations(store, stream_id)} vs {expected}\n{worker.output()[-3000:]}",
            )  # fmt: skip


def test_a_worker_started_while_the_broker_is_down_waits_for_it(
    clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    settings = load_settings(
        warehouse="server", clickhouse_port=clickhouse_server.port, clickhouse_database=unique_database(),
        data_dir=tmp_path, topic_partitions=4,
    )  # fmt: skip
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")  # its port chosen, not started yet
    env = env_of(settings, broker.bootstrap)
    with workers(env, tmp_path) as (worker,):
        wait_for(lambda: "waiting for the broker" in worker.output(), timeout_s=60, why=worker.output)
        time.sleep(3)
        assert worker.alive(), worker.output()[-3000:]
        with broker:  # starts it
            wait_for(lambda: assigned(worker), timeout_s=120, why=worker.output)
            assert worker.alive()


# ---------------------------------------------------------------------------------------------
# A worker joining after several ledger imports


def changed_ledger(folder: Path, name: str, product_id: str, status: str) -> Path:
    """The sample ledger with one product's review status changed."""
    lines = SAMPLE.ledger.read_text(encoding="utf-8").splitlines()
    changed = [line.replace(",approved,", f",{status},") if line.startswith(f"{product_id},") else line
               for line in lines]  # fmt: skip
    assert changed != lines
    path = folder / name
    path.write_text("\n".join(changed) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def server_settings(clickhouse_server: ClickHouseServer, tmp_path: Path) -> Settings:
    return load_settings(
        warehouse="server", clickhouse_port=clickhouse_server.port, clickhouse_database=unique_database(),
        data_dir=tmp_path, topic_partitions=4,
    )  # fmt: skip


def test_a_worker_joining_after_several_ledger_imports_takes_no_worker_down(
    server_settings: Settings, own_broker: str, tmp_path: Path
) -> None:
    env = env_of(server_settings, own_broker)
    imports = [
        SAMPLE.ledger,
        changed_ledger(tmp_path, "ledger-2.csv", "P-1002", "rejected"),
        changed_ledger(tmp_path, "ledger-3.csv", "P-1004", "pending"),
    ]
    claimwatch(env, "ledger", "import", str(imports[0]), "--mcn-id", SAMPLE.mcn_id)
    first = Worker(env, tmp_path / "first.log").start()
    second = Worker(env, tmp_path / "second.log")
    third = Worker(env, tmp_path / "third.log")
    pool = [first, second, third]
    with open_store(server_settings) as store:
        try:
            wait_for(lambda: assigned(first), timeout_s=120, why=first.output)
            for ledger in imports[1:]:
                claimwatch(env, "ledger", "import", str(ledger), "--mcn-id", SAMPLE.mcn_id)
            time.sleep(3)  # the running worker reads the new rows
            second.start()  # joins: every worker's tables recover again
            wait_for(lambda: assigned(second), timeout_s=120, why=second.output)
            time.sleep(5)
            third.start()  # and another, after the second's recovery read the ledger too
            wait_for(lambda: assigned(third), timeout_s=120, why=third.output)
            time.sleep(10)  # the rebalance settles (the workers died within 2 s of it)
            for worker in pool:
                assert worker.alive(), worker.output()[-3000:]
                assert "ConsistencyError" not in worker.output()
            streams = [f"joined-{i}" for i in range(6)]  # spread over the partitions: every worker checks
            expected: dict[str, Violations] = {}
            for stream_id in streams:
                path, events = listings_of(stream_id, tmp_path)
                expected[stream_id] = expected_checks(store, events)
                claimwatch(env, "ingest", "listings", str(path))
            categories = {c for found in expected.values() for _, _, c in found}
            assert "ledger_not_approved" in categories  # the later imports matter to the checks
            for stream_id in streams:
                wait_for(
                    lambda s=stream_id: violations(store, s) == expected[s], timeout_s=120,
                    why=lambda s=stream_id: f"{s}: stored {violations(store, s)} vs {expected[s]}\n"
                    + "\n".join(w.output()[-1500:] for w in pool),
                )  # fmt: skip
            time.sleep(2)
            for worker in pool:
                assert worker.alive(), worker.output()[-3000:]
        finally:
            for worker in pool:
                worker.stop()
    for worker in pool:
        worker.assert_no_agent_crashed()
