"""The broker from command-line processes: publishing (ingest, ledger import), reading dead letters.

A thin layer over kafka-python's producer and admin client: topics are created with the
configured partition count (the ledger topic compacted), records go out in the one JSON encoding
(:func:`pipeline.records.encode`) keyed by stream id, and ``close`` waits until every record is
acknowledged, so a command that returns has lost nothing.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline.errors import RecordError, ServiceError
from pipeline.records import DeadLetter, LedgerEntry, decode, encode
from pipeline.stream import topics

log = logging.getLogger(__name__)

_COMPACTED = {"cleanup.policy": "compact"}


def check_reachable(bootstrap: str, timeout_s: float = 5.0) -> None:
    """A TCP connection to one of the bootstrap servers, or a ServiceError naming them all.

    Asked before any Kafka client is made: kafka-python's clients leave their sockets open when
    their first connection fails, and a plain connection says "unreachable" sooner."""
    problems = []
    for address in (a.strip() for a in bootstrap.split(",")):
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout_s).close()
            return
        except (OSError, ValueError) as exc:
            problems.append(f"{address}: {exc}")
    raise ServiceError(f"broker {bootstrap} unreachable ({'; '.join(problems)})")


def ensure_topics(bootstrap: str, partitions: int) -> None:
    """Create ClaimWatch's topics if they do not exist yet (idempotent)."""
    check_reachable(bootstrap)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    except KafkaError as exc:
        raise ServiceError(f"broker {bootstrap} unreachable: {exc}") from None
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(name, partitions, 1) for name in topics.STREAM_KEYED if name not in existing]
        if topics.LEDGER not in existing:
            wanted.append(NewTopic(topics.LEDGER, 1, 1, topic_configs=_COMPACTED))
        if topics.DEADLETTER not in existing:
            wanted.append(NewTopic(topics.DEADLETTER, 1, 1))
        for topic in wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
                admin.create_topics([topic])
    finally:
        admin.close()


class Publisher:
    """Sends records to topics; ``with Publisher(...) as p: p.send(topic, key, record)``."""

    def __init__(self, bootstrap: str, partitions: int) -> None:
        ensure_topics(bootstrap, partitions)
        self.sent = 0
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap, acks="all", linger_ms=5, request_timeout_ms=30_000
            )
        except KafkaError as exc:
            raise ServiceError(f"broker {bootstrap} unreachable: {exc}") from None

    def send(self, topic: str, key: str, record: Any) -> None:
        self._producer.send(topic, key=key.encode(), value=encode(record))
        self.sent += 1

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Bytes as they are (tests use it to publish malformed messages)."""
        self._producer.send(topic, key=key, value=value)
        self.sent += 1

    def flush(self, timeout_s: float = 60.0) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise ServiceError(f"broker did not acknowledge every record: {exc}") from None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=10)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def publish_ledger(bootstrap: str, partitions: int, entries: Iterable[LedgerEntry]) -> int:
    """Ledger rows onto the compacted ledger topic, keyed ``mcn_id/product_id``."""
    with Publisher(bootstrap, partitions) as publisher:
        for entry in entries:
            publisher.send(topics.LEDGER, topics.ledger_key(entry.mcn_id, entry.product_id), entry)
        return publisher.sent


def read_dead_letters(bootstrap: str, timeout_s: float = 10.0, settle_s: float = 0.5) -> list[DeadLetter]:
    """Every dead letter on the topic, oldest first (read without joining a consumer group).

    Reads until the end offsets the broker reports, then on until nothing more has come for
    ``settle_s``: a broker's end offset may count record batches rather than records (tansu's
    does), so it is a lower bound here, not the end. Gives up waiting after ``timeout_s``.
    """
    ensure_topics(bootstrap, 1)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    letters: list[DeadLetter] = []
    try:
        partitions = [
            TopicPartition(topics.DEADLETTER, p)
            for p in consumer.partitions_for_topic(topics.DEADLETTER) or ()
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while (now := time.monotonic()) < deadline:
            at_end = all(consumer.position(tp) >= ends[tp] for tp in partitions)
            wait_s = settle_s if at_end else deadline - now
            polled = consumer.poll(timeout_ms=max(1, int(wait_s * 1000)))
            if not polled and at_end:
                break
            for message in (m for batch in polled.values() for m in batch):
                try:
                    letters.append(decode(DeadLetter, message.value))
                except RecordError as exc:
                    log.warning("unreadable dead letter at offset %d: %s", message.offset, exc)
    finally:
        consumer.close()
    return sorted(letters, key=lambda letter: letter.ts)
