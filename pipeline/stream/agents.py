"""The faust agents: each decodes records, calls the stage logic, sends the results on.

A record that cannot be decoded (or that the stage logic refuses as malformed) goes to the
``deadletter`` topic with the reason and its original bytes; the agent goes on with the next. So
does one that fails with an error no check expects (:func:`internal_error`: the log has the
traceback), rather than crashing the agent past its unacked events.

- ``transcribe``: speech pieces of any streams, decoded in batches; their segments searched for
  claims; segments and violations stored in ClickHouse, then published (``transcripts``,
  ``violations``) and the pieces acked;
- ``monitor``: stream facts and listing events: listing checks; stored, published, acked; the
  state of a stream whose end was announced is then released;
- ``alert``: high-severity violations → the MCN's webhooks (in the background).

Doing the work of a piece in the agent that took it, rather than hopping through topics between
stages, keeps a piece's words seconds from the warehouse; storing before acking keeps it
at-least-once (rows are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT, StreamT, TopicT

from pipeline.checks.monitor import UnknownStream
from pipeline.errors import AudioError, RecordError, WarehouseError, WarehouseUnavailable
from pipeline.records import (
    AudioChunk,
    DeadLetter,
    ListingEvent,
    StreamInfo,
    Violation,
    decode,
    encode,
)
from pipeline.stream import topics
from pipeline.stream.runtime import Runtime

log = logging.getLogger(__name__)

RECORD_TYPES: dict[str, type] = {topics.STREAMS: StreamInfo, topics.LISTINGS: ListingEvent}


@dataclass(frozen=True)
class Topics:
    audio: TopicT
    monitored: TopicT  # streams + listings
    transcripts: TopicT
    violations: TopicT
    deadletter: TopicT


def register(app: faust.App, t: Topics, rt: Runtime) -> None:
    """Attach the agents to ``app``."""

    async def dead_letter(event: EventT[Any], reason: str) -> None:
        await send_dead_letter(t, event, reason)

    async def refused_row(letter: DeadLetter) -> None:
        await t.deadletter.send(key=letter.key, value=encode(letter))

    rt.dead_letter = refused_row  # rows the warehouse refuses for good (the sink found them)
    app.on_before_shutdown.connect(lambda *_, **__: rt.sink.stop())  # no waiting out an outage then

    @app.agent(t.audio, concurrency=1)
    async def transcribe(stream: StreamT[Any]) -> None:
        # Speech pieces of any streams, decoded together; their segments checked for claims and
        # stored, all before the pieces are acked: a worker killed meanwhile has its pieces
        # decoded again by whoever takes the partition (the same pieces, the same ids).
        batches = cast(Stream[Any], stream).noack_take(rt.settings.transcribe_batch_pieces, within=0.1)
        async for events in batches:
            try:
                await transcribe_batch(t, rt, list(events))
            except WarehouseUnavailable as exc:  # the sink stopped waiting: the worker stops
                log.warning("%d speech pieces not stored (%s): left unacked", len(events), exc)
                return
            except Exception as exc:  # a bug: the pieces go to the dead letters, not lost
                log.exception("%d speech pieces could not be processed", len(events))
                for event in events:
                    await dead_letter(event, internal_error(exc))
            for event in events:
                await stream.ack(event)

    @app.agent(t.monitored)
    async def monitor(stream: StreamT[Any]) -> None:
        # Stream facts and listing events: checked, stored, then acked. Acked by hand: faust acks
        # an event when its iteration ends, even on an exception or a cancel, and an event still
        # waiting for the warehouse when the worker stops must be delivered again, not committed.
        async for event in cast(Stream[Any], stream).noack().events():
            try:
                await check_monitored(t, rt, event)
            except WarehouseUnavailable as exc:  # the sink stopped waiting: the worker stops
                log.warning(
                    "%s offset %d not stored (%s): left unacked", event.message.tp, event.message.offset, exc
                )
                return
            except Exception as exc:  # a bug: the event goes to the dead letters, not lost
                log.exception("%s offset %d could not be processed", event.message.tp, event.message.offset)
                await dead_letter(event, internal_error(exc))
            await stream.ack(event)

    @app.agent(t.violations)
    async def alert(stream: StreamT[Any]) -> None:
        if rt.alerts is None:
            async for _ in stream:
                pass
            return
        rt.alerts.start()
        try:
            async for value in stream:
                rt.counts["alerts.checked"] += 1
                try:
                    rt.alerts.submit(decode(Violation, value))
                except RecordError:
                    continue
        finally:  # the worker stops: what is queued goes out first (its offsets are committed)
            await rt.alerts.finish()


async def transcribe_batch(t: Topics, rt: Runtime, events: list[EventT[Any]]) -> None:
    """Speech pieces checked, decoded together, their claims found; stored, then published."""
    chunks: list[AudioChunk] = []
    with rt.working_on() as hold:  # their streams' end may be handled meanwhile
        for event in events:
            try:
                chunk = decode(AudioChunk, event.value)
                hold(chunk.stream_id)  # before the check awaits anything
                chunks.append(await rt.check_chunk(chunk))
            except (RecordError, AudioError, UnknownStream) as exc:
                await send_dead_letter(t, event, str(exc))
            except WarehouseError as exc:  # not an outage (those are waited out)
                await send_dead_letter(t, event, f"its stream could not be restored: {exc}")
        if chunks:
            segments = await asyncio.to_thread(rt.transcribe, chunks)
            violations = rt.on_segments(segments)
            await rt.save([*segments, *violations])
            await send_all(t.transcripts, segments)
            await send_all(t.violations, violations)
    rt.settle((chunk.stream_id for chunk in chunks), in_event=False)


def internal_error(exc: Exception) -> str:
    """A dead letter's reason for an error no check expects (the worker's log has its traceback).
    Caught, not left to faust: a crashed agent is restarted past its events, unacked, and acking
    the next ones has faust commit past them where nothing or one offset less was committed."""
    return f"not processed, an internal error: {type(exc).__name__}: {exc}"


async def send_dead_letter(t: Topics, event: EventT[Any], reason: str) -> None:
    letter = DeadLetter(
        topic=event.message.topic,
        reason=reason,
        payload=event.value if isinstance(event.value, bytes) else b"",
        ts=datetime.now(UTC),
        key=event.key,
    )
    log.warning("dead letter from %s: %s", letter.topic, reason)
    await t.deadletter.send(key=event.key, value=encode(letter))


async def send_all(topic: TopicT, records: list[Any]) -> None:
    for record in records:
        await topic.send(key=record.stream_id.encode(), value=encode(record))


async def check_monitored(t: Topics, rt: Runtime, event: EventT[Any]) -> None:
    """A stream fact or listing event: checked (its stream restored first), stored, published."""
    topic = event.message.topic
    try:
        kind = RECORD_TYPES.get(topic)
        if kind is None:
            raise RecordError(f"records of topic {topic!r} are not checked here")
        record: Any = decode(kind, event.value)
        violations = await rt.handle(topic, record)  # waits while the warehouse is down
    except RecordError as exc:
        await send_dead_letter(t, event, str(exc))
        return
    except WarehouseError as exc:  # not an outage (those are waited out): a query refused
        await send_dead_letter(t, event, f"its stream could not be restored: {exc}")
        return
    await rt.save([record, *violations])
    await send_all(t.violations, violations)
    rt.settle([record.stream_id])
