"""The faust agents: each decodes records, calls the stage logic, sends the results on.

A record that cannot be decoded (or that the stage logic refuses as malformed) goes to the
``deadletter`` topic with the reason and its original bytes; the agent goes on with the next.

- ``transcribe``: speech pieces of any streams, decoded in batches → ``transcripts``;
- ``monitor``: stream facts, listing events and transcript segments → ``violations``;
- ``store``: everything worth keeping → ClickHouse, in size- and time-bounded batches, acked only
  once written (at-least-once; rows are idempotent);
- ``alert``: high-severity violations → the MCN's webhooks (in the background).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT, StreamT, TopicT

from pipeline import topics
from pipeline.app import Runtime
from pipeline.errors import AudioError, RecordError
from pipeline.monitor import UnknownStream
from pipeline.records import (
    AudioChunk,
    DeadLetter,
    ListingEvent,
    StreamInfo,
    TranscriptSegment,
    Violation,
    decode,
    encode,
)
from pipeline.warehouse.rows import rows_for

log = logging.getLogger(__name__)

RECORD_TYPES: dict[str, type] = {
    topics.STREAMS: StreamInfo,
    topics.LISTINGS: ListingEvent,
    topics.TRANSCRIPTS: TranscriptSegment,
    topics.VIOLATIONS: Violation,
}


@dataclass(frozen=True)
class Topics:
    audio: TopicT
    monitored: TopicT  # streams + listings + transcripts
    stored: TopicT  # the same + violations
    transcripts: TopicT
    violations: TopicT
    deadletter: TopicT


def register(app: faust.App, t: Topics, rt: Runtime) -> None:
    """Attach the agents to ``app``."""

    async def dead_letter(event: EventT[Any], reason: str) -> None:
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

    @app.agent(t.audio, concurrency=1)
    async def transcribe(stream: StreamT[Any]) -> None:
        # The events are acked only once their segments are sent: a worker killed meanwhile has
        # its pieces decoded again by whoever takes the partition (the same pieces, the same ids).
        async for events in cast(Stream[Any], stream).noack_take(
            rt.settings.transcribe_batch_pieces, within=0.2
        ):
            chunks: list[AudioChunk] = []
            for event in events:
                try:
                    chunks.append(rt.check_chunk(decode(AudioChunk, event.value)))
                except (RecordError, AudioError) as exc:
                    await dead_letter(event, str(exc))
            if chunks:
                await send_all(t.transcripts, await asyncio.to_thread(rt.transcribe, chunks))
            for event in events:
                await stream.ack(event)

    @app.agent(t.monitored)
    async def monitor(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            topic = event.message.topic
            try:
                violations = rt.handle(topic, decode(RECORD_TYPES[topic], event.value))
            except (RecordError, UnknownStream) as exc:
                await dead_letter(event, str(exc))
                continue
            await send_all(t.violations, violations)

    @app.agent(t.stored)
    async def store(stream: StreamT[Any]) -> None:
        # take_events acks a batch after this body ran: rows are written before offsets commit.
        batches = cast(Stream[Any], stream).take_events(
            rt.settings.sink_batch_rows, within=rt.settings.sink_flush_s
        )
        async for events in batches:
            written: Counter[str] = Counter()
            for event in events:
                topic = event.message.topic
                try:
                    record: Any = decode(RECORD_TYPES[topic], event.value)
                except RecordError:
                    continue  # the monitor agent dead-letters it
                for table, row in rows_for(record, rt.stream_info):
                    rt.sink.add(table, row)
                    written[f"stored.{table}"] += 1
            await asyncio.to_thread(rt.sink.flush_until_done)
            rt.counts.update(written)

    @app.agent(t.violations)
    async def alert(stream: StreamT[Any]) -> None:
        if rt.alerts is None:
            async for _ in stream:
                pass
            return
        rt.alerts.start()
        async for value in stream:
            try:
                rt.alerts.submit(decode(Violation, value))
            except RecordError:
                continue
