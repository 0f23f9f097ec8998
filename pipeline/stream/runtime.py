"""The runtime of one worker process: the stage objects the agents call, and stream restore.

A :class:`Runtime` holds the monitor (:mod:`pipeline.checks.monitor`), the transcriber, the sink
and the alert sender, and offers the agents one method per step (``handle`` stream facts and
listings, ``check_chunk``/``transcribe``/``on_segments`` for speech, ``save``, ``settle``), plus
``on_ledger``/``on_ledger_removed``/``reload_ledger`` for the ledger feed
(:mod:`pipeline.stream.ledger_feed`). It knows nothing of faust: the stage table it keeps streams in
is any mutable mapping of bytes (a faust Table in the worker).

Restarts are correct whatever the broker: when the worker has no state of a stream, the table is
asked first, then the warehouse (:mod:`pipeline.warehouse.streams`), which holds every stream
announcement and listing event the sink wrote before it acked them. A stream that has ended is
released (:meth:`Runtime.settle`) once its records are stored and none of its pieces is being
decoded (:meth:`Runtime.working_on`: the end of a stream is announced on the stream-facts topic,
and may be handled while its last pieces are still in the transcriber); a late piece of it brings
it back from the warehouse, and it is released again.

The warehouse is asked only from coroutines that wait out an outage (:meth:`Runtime.ensure`,
:meth:`Runtime.from_warehouse`): the query in a thread, the pauses as asyncio sleeps, so an event
whose stream the warehouse must place waits, unchecked and unacked, while the other agents go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline.checks.monitor import Monitor, UnknownStream, build_monitor, tenant_mismatch
from pipeline.config import Settings
from pipeline.errors import WarehouseUnavailable
from pipeline.records import (
    AudioChunk,
    DeadLetter,
    LedgerEntry,
    ListingEvent,
    StreamInfo,
    TranscriptSegment,
    Violation,
)
from pipeline.reporting.alerts import AlertSender, load_targets
from pipeline.speech import models
from pipeline.speech.asr import Transcriber, worker_options
from pipeline.speech.models import LoadedModel
from pipeline.speech.pieces import check_piece
from pipeline.warehouse import Store
from pipeline.warehouse.cards import approved_cards
from pipeline.warehouse.ledger import current_ledger
from pipeline.warehouse.rows import rows_for
from pipeline.warehouse.sink import BatchingSink
from pipeline.warehouse.streams import stored_stream

log = logging.getLogger(__name__)
T = TypeVar("T")

WAREHOUSE_WAIT_FIRST_S = 1.0  # between tries of a query the warehouse could not answer (doubling)
WAREHOUSE_WAIT_MAX_S = 15.0
# how old the approved cards a worker holds may grow before a listing event reloads them
CARDS_REFRESH_S = 30.0


@dataclass
class Runtime:
    """The stage objects of one worker process and the state restore logic."""

    settings: Settings
    store: Store
    monitor: Monitor
    transcriber: Transcriber
    sink: BatchingSink
    alerts: AlertSender | None = None
    stage_table: MutableMapping[bytes, bytes] | None = None
    counts: Counter[str] = field(default_factory=Counter)  # what this process has done, by kind
    store_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # pieces being decoded and checked, by stream: their streams' state is not released meanwhile
    busy: Counter[str] = field(default_factory=Counter)
    # released streams whose stage-table entries are still to go: a faust table can be changed only
    # while an event of its source topic is handled (the monitor agent), not from the batches of
    # the transcriber, so a release there leaves its entry to the next settle of the monitor agent
    undropped: set[str] = field(default_factory=set)
    # where the rows the warehouse refuses for good go (the worker: the dead-letter topic)
    dead_letter: Callable[[DeadLetter], Awaitable[None]] | None = None
    cards_loaded_at: float = 0.0  # loop time the approved cards were last loaded (docs/cards.md)

    # -- stream facts and listing events (the monitor agent) ----------------------------------------

    async def handle(self, topic: str, record: StreamInfo | ListingEvent) -> list[Violation]:
        """A stream fact or a listing event → its violations (its stream restored first, waiting
        out a warehouse outage)."""
        await self.ensure(record.stream_id)
        # a product going on stage is judged by its card in force now, however new the copy held
        await self.refresh_cards(force=isinstance(record, ListingEvent) and record.event == "explain")
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

    # -- speech pieces (the transcribe agent) ---------------------------------------------------------

    async def check_chunk(self, chunk: AudioChunk) -> AudioChunk:
        """A piece the transcriber can take, of a stream this worker can place; an error otherwise
        (:class:`~pipeline.errors.TenantMismatch` for a piece naming another MCN or anchor than
        its stream's registration)."""
        check_piece(chunk, self.settings.audio_chunk_max_s)
        if await self.ensure(chunk.stream_id):
            info = self.monitor.stream(chunk.stream_id)
            if info is not None and (mismatch := tenant_mismatch(info, chunk)):
                raise mismatch
        else:
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

    def on_segments(self, segments: list[TranscriptSegment]) -> list[Violation]:
        """Claims heard in transcript segments and the cross checks they trigger."""
        found = [v for segment in segments for v in self.monitor.on_segment(segment)]
        self.counts["violations"] += len(found)
        return found

    # -- storing and releasing ----------------------------------------------------------------------

    async def save(self, records: list[Any]) -> None:
        """Records written to the warehouse now, waiting out an outage (one writer at a time)."""
        written: Counter[str] = Counter()
        async with self.store_lock:
            for record in records:
                for table, row in rows_for(record, self.stream_info):
                    self.sink.add(table, row)
                    written[f"stored.{table}"] += 1
            await asyncio.to_thread(self.sink.flush_until_done)
            refused = self.sink.take_refused()
        self.monitor.confirm(r for r in records if isinstance(r, Violation))  # stored or dead-lettered
        for letter in refused:  # stored but for these: they go to the dead letters, not round again
            written[f"stored.{letter.topic.removeprefix('warehouse.')}"] -= 1
            written["refused"] += 1
            if self.dead_letter is not None:
                await self.dead_letter(letter)
        self.counts.update(written)

    @contextmanager
    def working_on(self, chunks: Iterable[AudioChunk] = ()) -> Iterator[Callable[[str], None]]:
        """Hold the state of these pieces' streams while they are checked, decoded and stored, and
        of every stream given to the function it yields. Hold a stream before its piece is checked:
        checking a batch awaits (a stream restored from the warehouse), and the end of a stream
        already checked could be handled meanwhile, its state released before the piece is decoded
        (the segments then had no stream: UnknownStream crashed the transcribe agent)."""
        streams = [chunk.stream_id for chunk in chunks]
        self.busy.update(streams)

        def hold(stream_id: str) -> None:
            streams.append(stream_id)
            self.busy[stream_id] += 1

        try:
            yield hold
        finally:
            self.busy.subtract(streams)
            for stream_id in set(streams):
                if self.busy[stream_id] <= 0:
                    del self.busy[stream_id]

    def settle(self, stream_ids: Iterable[str], *, in_event: bool = True) -> None:
        """Release the state of those streams that have ended (call once their records are stored);
        a stream with pieces in the transcriber stays until they are done. ``in_event``: called
        while an event of the stage table's source topic is handled, so the table may be changed."""
        for stream_id in set(stream_ids):
            info = self.monitor.stream(stream_id)
            if info is None or info.ended_at is None or self.busy[stream_id] > 0:
                continue
            self.monitor.end_stream(stream_id)
            self.undropped.add(stream_id)
            self.counts["streams.released"] += 1
            log.info("stream %s ended at %s: its state is released", stream_id, info.ended_at.isoformat())
        if in_event:
            if self.stage_table is not None:
                for stream_id in self.undropped:
                    self.stage_table.pop(stream_id.encode(), None)
            self.undropped.clear()

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        """A stream this worker holds (or its table does); the warehouse is not asked here."""
        self.restore(stream_id)
        return self.monitor.stream(stream_id)

    # -- the ledger (the global ledger table) -----------------------------------------------------------

    def on_ledger(self, entry: LedgerEntry) -> None:
        self.monitor.on_ledger(entry)

    def on_ledger_removed(self, mcn_id: str, product_id: str) -> None:
        self.monitor.on_ledger_removed(mcn_id, product_id)

    async def reload_ledger(self) -> None:
        """The current ledger from the warehouse (waiting out an outage), over what is held."""
        entries = await self.from_warehouse("loading the ledger", lambda: current_ledger(self.store))
        self.monitor.load_ledger(entries)
        log.info("ledger loaded from the warehouse: %d rows", len(entries))
        await self.refresh_cards(force=True)

    async def refresh_cards(self, *, force: bool = False) -> None:
        """The approved selling-point cards from the warehouse, when those held are older than
        ``CARDS_REFRESH_S`` or ``force`` (an ``explain`` event: an approval made just before a
        product is presented must hold for it, tests/e2e/test_off_card_worker.py)."""
        now = asyncio.get_running_loop().time()
        if not force and now - self.cards_loaded_at < CARDS_REFRESH_S:
            return
        self.cards_loaded_at = now
        cards = await self.from_warehouse("loading the approved cards", lambda: approved_cards(self.store))
        self.monitor.load_cards(cards)

    # -- restore ---------------------------------------------------------------------------------------

    async def ensure(self, stream_id: str) -> bool:
        """Bring back a stream's state after a restart or rebalance: this process's, else the
        warehouse's, else the table's. The warehouse comes first because it holds every stream
        fact and listing event before it is acked, and every violation before its input is: the
        table is written before those are stored, and a faust table recovered over tansu (whose
        end offsets count record batches) can stop short of its last change. Restored from such a
        stale snapshot, a stream lost every stage change acked since (bench/chaos.py: speech
        claims stored without their product, efficacy_without_registration lost in every stream).
        The table is asked only for a stream the warehouse does not know yet. An outage is waited
        out, however long (an event of a stream that cannot be placed must be neither checked
        blind nor acked), and without holding up the event loop: the query runs in a thread and
        the waits are asyncio sleeps."""
        if self.monitor.knows(stream_id):
            return True
        stored = await self.from_warehouse(
            f"restoring stream {stream_id}", lambda: stored_stream(self.store, stream_id)
        )
        if self.monitor.knows(stream_id):  # another agent restored it meanwhile
            return True
        if stored is None:
            return self.restore(stream_id)
        self.monitor.restore_events(stored.info, stored.stage_events, stored.fired)
        log.info(
            "stream %s restored from the warehouse (%d stage events)", stream_id, len(stored.stage_events)
        )
        return True

    def restore(self, stream_id: str) -> bool:
        """A stream's state from this process or the table (no warehouse: see :meth:`ensure`)."""
        if self.monitor.knows(stream_id):
            return True
        saved = self.stage_table.get(stream_id.encode()) if self.stage_table is not None else None
        if saved is None:
            return False
        self.monitor.restore(json.loads(saved))
        return True

    async def from_warehouse(self, what: str, query: Callable[[], T]) -> T:
        """``query`` run in a thread, again and again while the warehouse is unavailable (the
        store's own retries spent); cancelling it (the worker stopping) ends the wait."""
        delay = WAREHOUSE_WAIT_FIRST_S
        while True:
            try:
                return await asyncio.to_thread(query)
            except WarehouseUnavailable as exc:
                self.counts["warehouse.waits"] += 1
                log.warning("%s: the warehouse is unavailable (%s); again in %.0f s", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, WAREHOUSE_WAIT_MAX_S)

    def remember(self, stream_id: str) -> None:
        """Keep a stream's state in the changelog-backed table."""
        snapshot = self.monitor.snapshot(stream_id)
        if self.stage_table is not None and snapshot is not None:
            self.stage_table[stream_id.encode()] = json.dumps(snapshot, ensure_ascii=False).encode()


def create_runtime(settings: Settings, store: Store, *, model: LoadedModel | None = None) -> Runtime:
    """The stage objects of a worker, the ledger loaded from the warehouse (every MCN)."""
    monitor = build_monitor(settings.lexicon_dir)
    monitor.load_ledger(current_ledger(store))
    monitor.load_cards(approved_cards(store))
    model = model or models.load(settings)
    return Runtime(
        settings=settings,
        store=store,
        monitor=monitor,
        transcriber=Transcriber(model, worker_options(model.device, settings.transcribe_batch_pieces)),
        sink=BatchingSink(store, max_rows=settings.sink_batch_rows, max_age_s=settings.sink_flush_s),
        alerts=AlertSender(load_targets(settings.alerts_file)) if settings.alerts_file else None,
    )
