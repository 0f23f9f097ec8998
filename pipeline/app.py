"""The faust application: topics, tables and the runtime the agents call into (DESIGN.md §1).

``build(settings, bootstrap, runtime)`` returns a faust app with ClaimWatch's topics, its
changelog-backed tables and the agents of :mod:`pipeline.agents`. The :class:`Runtime` holds the
stage objects (monitor, transcriber, sink, alerts); agents only move records between topics and
those objects.

Tables:

- ``stage`` (key stream id): what the listing checks remember of a stream, above all which
  product is being presented (讲解中) at what time, and the stream's facts;
- ``ledger`` (a global table over the compacted ``ledger`` topic): every worker sees every
  ledger row.

Restarts are correct whatever the broker: the warehouse is the source of truth the runtime falls
back on when a table has no entry for a stream (a fresh worker, or a broker whose ListOffsets
answers are off, as tansu's are), and every row the sink writes is idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.types import EventT

from pipeline import speech_model, topics
from pipeline.alerts import AlertSender, load_targets
from pipeline.analyze import build_monitor
from pipeline.asr import Transcriber, worker_options
from pipeline.config import Settings
from pipeline.errors import AudioError
from pipeline.ledger_store import current_ledger
from pipeline.monitor import Monitor, UnknownStream
from pipeline.pieces import check_piece
from pipeline.presentation import StreamState
from pipeline.publish import ensure_topics
from pipeline.records import (
    AudioChunk,
    LedgerEntry,
    ListingEvent,
    StreamInfo,
    TranscriptSegment,
    Violation,
    decode,
    to_dict,
)
from pipeline.speech_model import LoadedModel
from pipeline.vad import SAMPLE_RATE_HZ
from pipeline.warehouse import Store, open_store
from pipeline.warehouse.rows import rows_for
from pipeline.warehouse.sink import BatchingSink

log = logging.getLogger(__name__)
RAW: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}


@dataclass
class Runtime:
    """The stage objects of one worker process and the state restore logic."""

    settings: Settings
    store: Store
    monitor: Monitor
    transcriber: Transcriber
    sink: BatchingSink
    alerts: AlertSender | None = None
    stage_table: Any = None
    counts: Counter[str] = field(default_factory=Counter)  # what this process has done, by kind
    store_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def known(self, stream_id: str) -> bool:
        return stream_id in self.monitor.streams

    # -- what the agents call -----------------------------------------------------------------

    def handle(self, topic: str, record: Any) -> list[Violation]:
        """A stream fact or a listing event → its violations."""
        self.restore(record.stream_id)
        if isinstance(record, StreamInfo):
            self.monitor.on_stream(record)
            found: list[Violation] = []
        elif isinstance(record, ListingEvent):
            found = self.monitor.on_listing(record)
        else:
            raise TypeError(f"{topic}: the monitor takes no {type(record).__name__}")
        self.remember(record.stream_id)
        self.counts[topic] += 1
        self.counts["violations"] += len(found)
        return found

    def on_segments(self, segments: list[TranscriptSegment]) -> list[Violation]:
        """Claims heard in transcript segments and the cross checks they trigger."""
        found = [v for segment in segments for v in self.monitor.on_segment(segment)]
        self.counts["violations"] += len(found)
        return found

    async def save(self, records: list[Any]) -> None:
        """Records written to the warehouse now, waiting out an outage (one writer at a time)."""
        written: Counter[str] = Counter()
        async with self.store_lock:
            for record in records:
                for table, row in rows_for(record, self.stream_info):
                    self.sink.add(table, row)
                    written[f"stored.{table}"] += 1
            await asyncio.to_thread(self.sink.flush_until_done)
        self.counts.update(written)

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        self.restore(stream_id)
        return self.monitor.streams.get(stream_id)

    def check_chunk(self, chunk: AudioChunk) -> AudioChunk:
        """A chunk the transcriber can take (of a stream this worker can place), or an error."""
        if chunk.sample_rate_hz != SAMPLE_RATE_HZ:
            raise AudioError(f"chunk {chunk.seq} of {chunk.stream_id}: {chunk.sample_rate_hz} Hz, not 16 kHz")
        if len(chunk.pcm) % 2:
            raise AudioError(f"chunk {chunk.seq} of {chunk.stream_id}: odd number of PCM bytes")
        check_piece(chunk, self.settings.audio_chunk_max_s)
        if not self.restore(chunk.stream_id):
            if chunk.stream is None:
                raise UnknownStream(chunk.stream_id)
            self.monitor.on_stream(chunk.stream)
        return chunk

    def transcribe(self, chunks: list[AudioChunk]) -> list[TranscriptSegment]:
        """Speech pieces of any streams, decoded in batches (runs in a thread: it is CPU work)."""
        for chunk in chunks:
            self.transcriber.add_piece(chunk)
        segments: list[TranscriptSegment] = self.transcriber.drain()
        self.counts["pieces"] += len(chunks)
        self.counts["segments"] += len(segments)
        return segments

    def restore(self, stream_id: str) -> bool:
        """Bring back a stream's state after a restart: the table first, else the warehouse."""
        if self.known(stream_id):
            return True
        saved = self.stage_table.get(stream_id.encode()) if self.stage_table is not None else None
        if saved is not None:
            data = json.loads(saved)
            self.monitor.on_stream(decode(StreamInfo, data["info"]))
            self.monitor.checker.restore_stream(stream_id, StreamState.restore(data["state"]))
            return True
        return restore_from_warehouse(self.store, self.monitor, stream_id)

    def remember(self, stream_id: str) -> None:
        """Keep a stream's state in the changelog-backed table."""
        info = self.monitor.streams.get(stream_id)
        state = self.monitor.checker.stream_state(stream_id)
        if self.stage_table is None or info is None or state is None:
            return
        data = {"info": to_dict(info), "state": state.snapshot()}
        self.stage_table[stream_id.encode()] = json.dumps(data, ensure_ascii=False).encode()


def restore_from_warehouse(store: Store, monitor: Monitor, stream_id: str) -> bool:
    """A stream's facts and its listing events from the warehouse (what the sink wrote)."""
    rows = store.query(
        "SELECT stream_id, anchor_id, mcn_id, started_at, source, audio_path, ended_at "
        "FROM streams FINAL WHERE stream_id = %(s)s",
        {"s": stream_id},
    )
    if not rows:
        return False
    monitor.on_stream(StreamInfo(**rows[0]))
    events = store.query(
        "SELECT raw FROM listings FINAL WHERE stream_id = %(s)s AND event IN ('explain', 'off_shelf') "
        "ORDER BY ts, event_id",
        {"s": stream_id},
    )
    state = monitor.checker.stream_state(stream_id)
    if state is not None:
        for row in events:
            state.stage.record(decode(ListingEvent, row["raw"]))
    log.info("stream %s restored from the warehouse (%d stage events)", stream_id, len(events))
    return True


class LedgerTable(faust.GlobalTable):
    """The ledger as a global table over the compacted ledger topic; every row that arrives (at
    recovery or later) goes to the listing checker too."""

    runtime: Runtime | None = None

    def apply_changelog_batch(self, batch: Iterable[EventT[Any]]) -> None:
        events = list(batch)
        super().apply_changelog_batch(events)
        if self.runtime is None:
            return
        for event in events:
            if event.value is None:
                key = event.key if isinstance(event.key, bytes) else b""
                mcn_id, _, product_id = key.decode().partition("/")
                self.runtime.monitor.checker.on_ledger_removed(mcn_id, product_id)
            else:
                self.runtime.monitor.checker.on_ledger(decode(LedgerEntry, event.value))


def create_runtime(settings: Settings, store: Store, *, model: LoadedModel | None = None) -> Runtime:
    """The stage objects of a worker, the ledger loaded from the warehouse (every MCN)."""
    monitor = build_monitor(settings)
    monitor.checker.ledger.put_all(current_ledger(store))
    model = model or speech_model.load(settings)
    return Runtime(
        settings=settings,
        store=store,
        monitor=monitor,
        transcriber=Transcriber(model, worker_options(model.device)),
        sink=BatchingSink(store, max_rows=settings.sink_batch_rows, max_age_s=settings.sink_flush_s),
        alerts=AlertSender(load_targets(settings.alerts_file)) if settings.alerts_file else None,
    )


@asynccontextmanager
async def running(app: faust.App) -> AsyncIterator[faust.App]:
    """The app started in this event loop (the demo and the tests run it in-process)."""
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def build(settings: Settings, bootstrap: str, runtime: Runtime) -> faust.App:
    """The faust app with ClaimWatch's topics, tables and agents, wired to ``runtime``."""
    from pipeline import agents

    app = faust.App(
        topics.APP_ID,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_rebalance_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.broker_session_timeout_s / 3),
        broker_commit_every=100,
        broker_commit_interval=1.0,
        table_standby_replicas=0,
        stream_wait_empty=False,
        GlobalTable=LedgerTable,
    )
    partitions = settings.topic_partitions
    wiring = agents.Topics(
        audio=app.topic(topics.AUDIO, partitions=partitions, **RAW),
        monitored=app.topic(*topics.MONITORED, partitions=partitions, **RAW),
        transcripts=app.topic(topics.TRANSCRIPTS, partitions=partitions, **RAW),
        violations=app.topic(topics.VIOLATIONS, partitions=partitions, **RAW),
        deadletter=app.topic(topics.DEADLETTER, partitions=1, **RAW),
    )
    runtime.stage_table = app.Table("stage", partitions=partitions, key_type=bytes, value_type=bytes)
    ledger = app.GlobalTable(  # its changelog is topics.LEDGER, which `ledger import` writes
        "ledger",
        partitions=1,
        recovery_buffer_size=1,
        synchronize_all_active_partitions=True,
        key_type=bytes,
        value_type=bytes,
    )
    cast(LedgerTable, ledger).runtime = runtime
    agents.register(app, wiring, runtime)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: set[Any], **_: Any) -> None:
        audio = sorted(tp.partition for tp in assigned if tp.topic == topics.AUDIO)
        log.info("worker %d owns %s partitions %s", os.getpid(), topics.AUDIO, audio)
        runtime.counts["rebalances"] += 1

    return app


def run_worker(settings: Settings, bootstrap: str) -> None:
    """`claimwatch worker`: a faust worker process until SIGINT/SIGTERM."""
    level = min(logging.getLogger().level, logging.INFO)  # a service logs what it does
    for noisy in ("faust", "mode", "aiokafka", "kafka"):  # their warnings and errors, not chatter
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ensure_topics(bootstrap, settings.topic_partitions)
    store = open_store(settings)
    try:
        app = build(settings, bootstrap, create_runtime(settings, store))
        faust.Worker(app, loglevel=level).execute_from_commandline()
    finally:
        store.close()
