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
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.producer.future import FutureRecordMetadata

from pipeline.errors import DeliveryError, RecordError, ServiceError, TopicLayoutError
from pipeline.records import AudioChunk, DeadLetter, LedgerEntry, ListingEvent, StreamInfo, decode, encode
from pipeline.stream import topics

log = logging.getLogger(__name__)

_COMPACTED = {"cleanup.policy": "compact"}
_LINGER_MS = 5
_SHOWN = 12  # undelivered records named in an error; the rest are counted
_START_WAIT_S = 30.0  # at most, for a broker unreachable when a publisher starts


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


def wait_reachable(bootstrap: str, timeout_s: float) -> None:
    """:func:`check_reachable`, asked again after 0.5, 1, 2 .. 5 s until ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        try:
            check_reachable(bootstrap)
            return
        except ServiceError:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("broker %s unreachable; asking again in %.1f s", bootstrap, delay)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


REPAIR = "claimwatch topics repair"


def ensure_topics(bootstrap: str, partitions: int) -> None:
    """Create the topics that do not exist yet with their layout (idempotent); TopicLayoutError
    when one that exists has other partitions than :func:`pipeline.stream.topics.layout` says."""
    with _admin(bootstrap) as admin:
        found = _partitions(admin)
        for spec in topics.layout(partitions):
            if spec.name not in found:
                _create(admin, spec)
        found = _partitions(admin)
    problems = layout_problems(found, partitions)
    if problems:
        raise TopicLayoutError(layout_message(bootstrap, found, partitions, problems))


def topic_partitions(bootstrap: str) -> dict[str, int]:
    """Every topic on the broker with its partition count (creates nothing)."""
    with _admin(bootstrap) as admin:
        return _partitions(admin)


def layout_problems(found: dict[str, int], partitions: int) -> list[str]:
    """How the broker's topics differ from the layout: ``streams has 4 partitions, 8 expected``."""
    problems = []
    for spec in topics.layout(partitions):
        if spec.name not in found:
            problems.append(f"{spec.name} is missing")
        elif found[spec.name] != spec.partitions:
            problems.append(f"{spec.name} has {found[spec.name]} partitions, {spec.partitions} expected")
    return problems


def layout_message(bootstrap: str, found: dict[str, int], partitions: int, problems: list[str]) -> str:
    """The problems, and what fixes them."""
    keyed = {found[name] for name in topics.STREAM_KEYED if name in found}
    hint = ""
    if len(keyed) == 1 and partitions not in keyed:  # the broker agrees with itself, not with us
        hint = f"set CLAIMWATCH_TOPIC_PARTITIONS={keyed.pop()} to use the broker's topics, or "
    return (
        f"broker {bootstrap}: {'; '.join(problems)}. The stream-keyed topics must all have "
        f"CLAIMWATCH_TOPIC_PARTITIONS ({partitions}) partitions, or a worker's checks fail on every "
        f"event; {hint}stop the workers and run `{REPAIR}` (it deletes and recreates the topics "
        "named, whose records are lost: ingest those streams again)"
    )


def repair_topics(bootstrap: str, partitions: int, timeout_s: float = 30.0) -> list[str]:
    """Delete each topic whose partitions differ from the layout, create it and every missing one
    anew; what was done, one line each. Their records are lost: the caller asks first."""
    done = []
    with _admin(bootstrap) as admin:
        found = _partitions(admin)
        specs = topics.layout(partitions)
        wrong = [s for s in specs if s.name in found and found[s.name] != s.partitions]
        if wrong:
            admin.delete_topics([s.name for s in wrong], timeout_ms=int(timeout_s * 1000))
            deadline = time.monotonic() + timeout_s
            while {s.name for s in wrong} & set(admin.list_topics()):
                if time.monotonic() > deadline:
                    raise ServiceError(f"broker {bootstrap} did not delete {[s.name for s in wrong]}")
                time.sleep(0.2)
        for spec in specs:
            if spec in wrong:
                _create(admin, spec)
                had = found[spec.name]
                done.append(f"recreated {spec.name} with {spec.partitions} partitions (it had {had})")
            elif spec.name not in found:
                _create(admin, spec)
                done.append(f"created {spec.name} with {spec.partitions} partitions")
    return done


@contextlib.contextmanager
def _admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    """An admin client; a broker that cannot be reached or answered is a ServiceError."""
    check_reachable(bootstrap)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    except KafkaError as exc:
        raise ServiceError(f"broker {bootstrap} unreachable: {exc}") from None
    try:
        yield admin
    except KafkaError as exc:
        raise ServiceError(f"broker {bootstrap} failed: {type(exc).__name__}: {exc}") from None
    finally:
        admin.close()


def _partitions(admin: KafkaAdminClient) -> dict[str, int]:
    # describe_topics() without names asks for every topic: naming one that is missing would make
    # a broker that creates topics on first use (tansu does) create it.
    return {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}


def _create(admin: KafkaAdminClient, spec: topics.TopicSpec) -> None:
    configs = _COMPACTED if spec.compacted else {}
    with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
        admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=configs)])


@dataclass(frozen=True)
class Undelivered:
    """A record the broker did not acknowledge: where it was going, what it was, why."""

    topic: str
    key: str
    what: str
    reason: str

    def __str__(self) -> str:
        return " ".join(part for part in (self.topic, self.key, self.what) if part)


class Publisher:
    """Sends records to topics; ``with Publisher(...) as p: p.send(topic, key, record)``.

    Every send's result is kept: the producer retries a record until ``delivery_timeout_s``
    has passed, then fails it, and ``flush`` and ``close`` raise a DeliveryError naming each
    record that failed or expired (how many of how many, the topic, the key and what the record
    was), so a command that returns has lost nothing. The broker's topics are checked against
    the layout before the first record and again at the end, since a broker that restarted empty
    creates the topics it is sent to with its own partition count.
    """

    def __init__(self, bootstrap: str, partitions: int, *, delivery_timeout_s: float = 120.0) -> None:
        # a broker restarting as publishing begins is waited for, as one record would be
        wait_reachable(bootstrap, min(delivery_timeout_s, _START_WAIT_S))
        ensure_topics(bootstrap, partitions)
        self.bootstrap, self.partitions = bootstrap, partitions
        self.delivery_timeout_s = delivery_timeout_s
        self.sent = 0
        self._pending: deque[tuple[Undelivered, FutureRecordMetadata]] = deque()
        self._failed: list[Undelivered] = []
        delivery_ms = max(1000, int(delivery_timeout_s * 1000))
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                enable_idempotence=True,  # a retried batch is not written twice
                linger_ms=_LINGER_MS,
                delivery_timeout_ms=delivery_ms,  # retries included: the bound on one record
                request_timeout_ms=min(30_000, delivery_ms - _LINGER_MS),
                max_block_ms=delivery_ms,  # send() waiting for metadata or buffer space
                allow_auto_create_topics=False,  # Kafka honours it; tansu does not (checked at close)
            )
        except KafkaError as exc:
            raise ServiceError(f"broker {bootstrap} unreachable: {exc}") from None

    def send(self, topic: str, key: str, record: Any) -> None:
        self._send(Undelivered(topic, key, _what(record), ""), key.encode(), encode(record))

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Bytes as they are (tests use it to publish malformed messages)."""
        self._send(Undelivered(topic, (key or b"").decode(errors="replace"), "raw", ""), key, value)

    def _send(self, record: Undelivered, key: bytes | None, value: bytes) -> None:
        self.sent += 1
        try:
            future = self._producer.send(record.topic, key=key, value=value)
        except KafkaError as exc:  # no metadata or no buffer space within the delivery timeout
            self._lost(record, exc)
            return
        self._pending.append((record, future))
        self._settle()

    def _settle(self) -> None:
        """Drop the acknowledged records from the front; keep the failed ones."""
        while self._pending and self._pending[0][1].is_done:
            record, future = self._pending.popleft()
            if future.failed():
                self._lost(record, future.exception)

    def _lost(self, record: Undelivered, exc: BaseException | None) -> None:
        name, text = type(exc).__name__, str(exc)
        reason = "no answer in time" if exc is None else text if text.startswith(name) else f"{name}: {text}"
        self._failed.append(replace(record, reason=reason))
        log.error("not delivered to the broker: %s (%s)", record, reason)

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait for every record's result; DeliveryError if any was not acknowledged."""
        with contextlib.suppress(KafkaError):  # what is still pending is reported below
            self._producer.flush(timeout=timeout_s or self.delivery_timeout_s + 10)
        for record, future in self._pending:
            if not future.succeeded():
                self._lost(record, future.exception)
        self._pending.clear()
        if self._failed:
            raise DeliveryError(self._delivery_message())

    def _delivery_message(self) -> str:
        failed = self._failed
        reasons = Counter(f.reason.split(":")[0] for f in failed)
        shown = "; ".join(str(f) for f in failed[:_SHOWN])
        more = f"; and {len(failed) - _SHOWN} more" if len(failed) > _SHOWN else ""
        return (
            f"{len(failed)} of {self.sent} records not delivered to broker {self.bootstrap} within "
            f"{self.delivery_timeout_s:g} s ({', '.join(f'{r} x{n}' for r, n in reasons.items())}): "
            f"{shown}{more}{self._layout_note()}"
        )

    def _layout_note(self) -> str:
        try:
            found = topic_partitions(self.bootstrap)
        except ServiceError:
            return ""
        problems = layout_problems(found, self.partitions)
        return (
            f". Also: {layout_message(self.bootstrap, found, self.partitions, problems)}" if problems else ""
        )

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with contextlib.suppress(KafkaError):
                self._producer.close(timeout=5)
        # every record is acknowledged: a broker down just now is waited for, as one record would be
        wait_reachable(self.bootstrap, self.delivery_timeout_s)
        found = topic_partitions(self.bootstrap)
        problems = layout_problems(found, self.partitions)
        if problems:  # delivered, but onto topics the broker made anew while we published
            raise TopicLayoutError(
                "the broker's topics changed while publishing, so records may sit on the wrong "
                f"partitions: {layout_message(self.bootstrap, found, self.partitions, problems)}"
            )

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _what(record: Any) -> str:
    """A record as an operator looks for it: which piece, which end of a stream, which event."""
    if isinstance(record, AudioChunk):
        return f"piece {record.seq} ({record.offset_s:.1f} s)"
    if isinstance(record, StreamInfo):
        return "end" if record.ended_at is not None else "start"
    if isinstance(record, ListingEvent):
        return f"{record.event} {record.listing_id} at {record.ts.isoformat()}"
    if isinstance(record, LedgerEntry):
        return ""  # its key names the product
    return type(record).__name__


def publish_ledger(
    bootstrap: str, partitions: int, entries: Iterable[LedgerEntry], *, delivery_timeout_s: float = 120.0
) -> int:
    """Ledger rows onto the compacted ledger topic, keyed ``mcn_id/product_id``."""
    with Publisher(bootstrap, partitions, delivery_timeout_s=delivery_timeout_s) as publisher:
        for entry in entries:
            publisher.send(topics.LEDGER, topics.ledger_key(entry.mcn_id, entry.product_id), entry)
        return publisher.sent


def read_dead_letters(bootstrap: str, timeout_s: float = 10.0, settle_s: float = 0.5) -> list[DeadLetter]:
    """Every dead letter on the topic, oldest first (read without joining a consumer group).

    Reads until the end offsets the broker reports, then on until nothing more has come for
    ``settle_s``: a broker's end offset may count record batches rather than records (tansu's
    does), so it is a lower bound here, not the end. Gives up waiting after ``timeout_s``.
    """
    if topics.DEADLETTER not in topic_partitions(bootstrap):  # asking for it could create it
        return []
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, allow_auto_create_topics=False
    )
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
