"""Records through the real broker: produced with kafka-python, consumed by a faust agent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust
import pytest
from kafka import KafkaProducer

from pipeline.errors import ServiceError
from pipeline.records import DeadLetter, ListingEvent, Qualification, StreamInfo, Violation, decode, encode
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.publish import ensure_topics, read_dead_letters
from pipeline.stream.topics import DEADLETTER

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def sample_records() -> list[object]:
    return [
        StreamInfo("s1", "anchor-1", "mcn-a", T0),
        ListingEvent(
            T0, "s1", "anchor-1", "mcn-a", "explain", "L1", "面霜", "水润坊", "cosmetics",
            qualifications=(Qualification("cosmetics_filing", "浙G妆网备字2023001147"),),
        ),
        Violation("e1", "s1", "anchor-1", "mcn-a", "claim", "price", "high", T0, 1.0, 2.0, "speech"),
    ]  # fmt: skip


async def consume_with_faust(bootstrap: str, topic_name: str, expected: int) -> list[tuple[bytes, bytes]]:
    app = faust.App(
        f"roundtrip-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=2,
    )
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    received: list[tuple[bytes, bytes]] = []
    done = asyncio.Event()

    @app.agent(topic)
    async def collect(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            received.append((event.key, event.value))
            if len(received) == expected:
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await app.stop()
    return received


def test_records_round_trip_from_kafka_python_to_a_faust_agent(broker: str) -> None:
    records = sample_records()
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=broker)
    try:
        for record in records:
            producer.send(topic, key=b"s1", value=encode(record))
        producer.flush(timeout=30)
    finally:
        producer.close()
    received = asyncio.run(consume_with_faust(broker, topic, len(records)))
    assert [key for key, _ in received] == [b"s1"] * len(records)
    decoded = [decode(type(r), value) for r, (_, value) in zip(records, received, strict=True)]
    assert decoded == records


def test_broker_that_exits_at_start_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.stream.broker.tansu_binary", lambda: "/bin/false")
    with pytest.raises(ServiceError, match="failed to start: process exited with status 1"):
        EmbeddedBroker().start(timeout_s=5)


def test_every_dead_letter_is_read_back_although_tansu_counts_batches(tmp_path: Path) -> None:
    """tansu's end offset counts record batches; the reader must not stop at it."""
    letters = [DeadLetter("listings", f"reason {i}", b"{", T0 + timedelta(seconds=i)) for i in range(30)]
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as running:
        ensure_topics(running.bootstrap, 1)
        producer = KafkaProducer(bootstrap_servers=running.bootstrap, linger_ms=200, acks="all")
        for letter in letters:
            producer.send(DEADLETTER, value=encode(letter))  # lingering: several records per batch
        producer.flush()
        producer.close()
        got = read_dead_letters(running.bootstrap)
    assert [letter.reason for letter in got] == [letter.reason for letter in letters]
