"""Publishing from command-line processes (pipeline.stream.publish) on the real broker (tansu)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline.errors import ServiceError
from pipeline.records import LedgerEntry, StreamInfo, decode
from pipeline.stream import topics
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.publish import Publisher, ensure_topics, publish_ledger
from tests.conftest import SHARED_PARTITIONS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def read_back(bootstrap: str, topic: str, keys: set[bytes], timeout_s: float = 30) -> dict[bytes, bytes]:
    """The last value of each of ``keys`` on ``topic``, read from the start until all are seen
    (tansu's end offsets count batches, so they cannot say when the end is reached)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    found: dict[bytes, bytes] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout_s
        while set(found) < keys and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                found.update((m.key, m.value) for m in batch if m.key in keys)
    finally:
        consumer.close()
    return found


def test_topics_are_created_once_with_their_partitions() -> None:
    with EmbeddedBroker() as own:
        ensure_topics(own.bootstrap, 3)
        ensure_topics(own.bootstrap, 3)  # idempotent
        admin = KafkaAdminClient(bootstrap_servers=own.bootstrap)
        try:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
        finally:
            admin.close()
    assert {name: described[name] for name in topics.STREAM_KEYED} == dict.fromkeys(topics.STREAM_KEYED, 3)
    assert described[topics.LEDGER] == described[topics.DEADLETTER] == 1


def test_records_are_sent_keyed_by_stream_and_acknowledged_on_close(broker: str) -> None:
    streams = [StreamInfo(f"pub-{uuid.uuid4().hex[:8]}", "anchor-1", "mcn-a", T0) for _ in range(5)]
    with Publisher(broker, SHARED_PARTITIONS) as publisher:
        for info in streams:
            publisher.send(topics.STREAMS, info.stream_id, info)
        assert publisher.sent == 5
    # closed: every record is on the broker
    back = read_back(broker, topics.STREAMS, {s.stream_id.encode() for s in streams})
    received = sorted((decode(StreamInfo, value) for value in back.values()), key=lambda s: s.stream_id)
    assert received == sorted(streams, key=lambda s: s.stream_id)


def test_ledger_rows_go_to_the_compacted_topic_keyed_by_mcn_and_product(broker: str) -> None:
    mcn = f"mcn-{uuid.uuid4().hex[:6]}"
    rows = [LedgerEntry(f"P-{n}", mcn, f"商品{n}", "牌", "other", "approved") for n in range(3)]
    assert publish_ledger(broker, SHARED_PARTITIONS, rows) == 3
    keys = {topics.ledger_key(mcn, r.product_id).encode() for r in rows}
    back = read_back(broker, topics.LEDGER, keys)
    assert sorted(decode(LedgerEntry, v).product_id for v in back.values()) == ["P-0", "P-1", "P-2"]


def test_an_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(ServiceError, match=r"broker 127\.0\.0\.1:9 unreachable \(127\.0\.0\.1:9: .*refused"):
        Publisher("127.0.0.1:9", 1, delivery_timeout_s=1.0)
    with pytest.raises(ServiceError, match="not-a-port"):
        ensure_topics("localhost:not-a-port", 1)


def test_a_broker_restarting_as_publishing_begins_is_waited_for(tmp_path: Path) -> None:
    """bench/chaos.py: a broker killed just as `ingest audio` starts made it exit 'unreachable'."""
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")  # its port chosen, not started yet
    starter = threading.Timer(2.0, broker.start)
    starter.start()
    try:
        with Publisher(broker.bootstrap, 2, delivery_timeout_s=20.0) as publisher:
            publisher.send_raw(topics.LEDGER, b"k", b"{}")
        assert publisher.sent == 1
    finally:
        starter.join()
        broker.stop()
