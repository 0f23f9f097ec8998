"""The worker runtime releases an ended stream's state only when none of its pieces is in flight,
and dead-letters the rows the warehouse refuses for good."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.checks.monitor import build_monitor
from pipeline.config import load_settings
from pipeline.records import AudioChunk, DeadLetter, ListingEvent, StreamInfo, TranscriptSegment, Violation
from pipeline.stream.runtime import Runtime
from pipeline.warehouse import Store
from pipeline.warehouse.sink import BatchingSink

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INFO = StreamInfo("room-1", "anchor-1", "mcn-1", T0)


def runtime() -> Runtime:
    # settle and working_on use only the monitor: no model, store or sink is needed here
    none: Any = None
    return Runtime(settings=load_settings(), store=none, monitor=build_monitor(), transcriber=none, sink=none)


def piece(seq: int) -> AudioChunk:
    return AudioChunk("room-1", seq, float(seq), 16_000, b"\0\0" * 1600)


def test_the_end_of_a_stream_waits_for_its_pieces_in_flight() -> None:
    rt = runtime()
    rt.monitor.on_stream(INFO)
    with rt.working_on([piece(0), piece(1)]):
        # the stream-facts agent handles the end while the transcriber decodes the last pieces
        rt.monitor.on_stream(replace(INFO, ended_at=T0 + timedelta(minutes=2)))
        rt.settle(["room-1"])
        assert rt.monitor.knows("room-1"), "released while its pieces were being decoded"
    assert rt.busy == {}
    rt.settle(["room-1"])
    assert not rt.monitor.knows("room-1")
    assert rt.counts["streams.released"] == 1


def test_a_stream_held_before_its_piece_is_checked_outlives_its_end_handled_meanwhile() -> None:
    """The transcribe agent checks a batch piece by piece, and a check can await (a stream restored
    from the warehouse): the end of a stream checked earlier in the batch was handled meanwhile,
    its state released before its piece was decoded, and its segments had no stream."""
    rt = runtime()
    rt.monitor.on_stream(INFO)

    async def batch() -> list[Violation]:
        with rt.working_on() as hold:
            hold("room-1")
            await rt.check_chunk(piece(0))
            # the stream-facts agent handles the end while the batch's next piece is checked
            rt.monitor.on_stream(replace(INFO, ended_at=T0 + timedelta(minutes=2)))
            rt.settle(["room-1"])
            assert rt.busy == {"room-1": 1}
            return rt.on_segments([TranscriptSegment("seg-0", "room-1", 0.0, 2.0, "全网最低价")])

    found = asyncio.run(batch())
    assert sorted(v.category for v in found) == ["absolute", "price"]
    assert rt.busy == {}
    rt.settle(["room-1"])
    assert not rt.monitor.knows("room-1")


def test_a_stream_that_has_not_ended_is_kept_and_a_failed_batch_lets_go() -> None:
    rt = runtime()
    rt.monitor.on_stream(INFO)
    rt.settle(["room-1"])
    assert rt.monitor.knows("room-1")
    try:
        with rt.working_on([piece(0)]):
            raise RuntimeError("decoding failed")
    except RuntimeError:
        pass
    assert rt.busy == {}


def test_a_release_from_the_transcriber_leaves_the_table_entry_to_the_monitor_agent() -> None:
    rt = runtime()
    table: dict[bytes, bytes] = {b"room-1": b"{}", b"room-2": b"{}"}
    rt.stage_table = table
    rt.monitor.on_stream(replace(INFO, ended_at=T0 + timedelta(minutes=2)))
    rt.settle(["room-1"], in_event=False)  # a faust table cannot be changed from a batch
    assert not rt.monitor.knows("room-1")
    assert b"room-1" in table
    rt.settle(["room-2"])  # the next settle while a stream-facts event is handled drops it
    assert table == {b"room-2": b"{}"}
    assert rt.undropped == set()


@pytest.mark.integration
def test_a_row_the_warehouse_refuses_is_dead_lettered_and_the_rest_stored(store: Store) -> None:
    # a listing made in-process (not decoded at the edge) with a time before the epoch in UTC
    good = ListingEvent(T0, "room-1", "anchor-1", "mcn-1", "on_shelf", "L1", "面霜", "水润坊", "cosmetics")
    poison = replace(good, listing_id="L2", ts=datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=8))))
    none: Any = None
    rt = Runtime(
        settings=load_settings(),
        store=store,
        monitor=build_monitor(),
        transcriber=none,
        sink=BatchingSink(store),
    )
    letters: list[DeadLetter] = []

    async def dead_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    rt.dead_letter = dead_letter
    asyncio.run(asyncio.wait_for(rt.save([poison, good]), timeout=30))
    assert [(letter.topic, json.loads(letter.payload)["listing_id"]) for letter in letters] == [
        ("warehouse.listings", "L2")
    ]
    assert "column ts" in letters[0].reason
    assert store.query("SELECT listing_id FROM listings") == [{"listing_id": "L1"}]
    assert (rt.counts["stored.listings"], rt.counts["refused"]) == (1, 1)


@pytest.mark.integration
def test_a_stream_taken_over_comes_back_from_the_warehouse_not_a_stale_table(store: Store) -> None:
    """bench/chaos.py: the table held a snapshot from before the room's explain events (written
    before they were stored; a faust table over tansu can recover short of its last change). The
    next worker restored that snapshot, the explains were acked already: every later claim was
    stored with no product, and the efficacy cross-check never fired, in every stream."""
    none: Any = None
    first = Runtime(
        settings=load_settings(),
        store=store,
        monitor=build_monitor(),
        transcriber=none,
        sink=BatchingSink(store),
    )
    table: dict[bytes, bytes] = {}
    first.stage_table = table
    shelf = ListingEvent(T0, "room-1", "anchor-1", "mcn-1", "on_shelf", "L1", "面霜", "水润坊", "cosmetics")
    explain = replace(shelf, event="explain", ts=T0 + timedelta(seconds=10))

    found: list[Violation] = []  # the shelf's listing checks: off_ledger (no ledger loaded)

    async def first_worker() -> None:
        await first.handle("streams", INFO)
        await first.save([INFO])
        found.extend(await first.handle("listings", shelf))  # the table's last change a later worker gets
        stale = dict(table)
        await first.save([shelf, *found])
        await first.handle("listings", explain)
        await first.save([explain])
        table.clear()
        table.update(stale)

    asyncio.run(asyncio.wait_for(first_worker(), timeout=60))
    second = Runtime(
        settings=load_settings(),
        store=store,
        monitor=build_monitor(),
        transcriber=none,
        sink=BatchingSink(store),
    )
    second.stage_table = table
    assert asyncio.run(second.ensure("room-1"))
    state = second.monitor.checker.stream_state("room-1")
    assert state is not None
    assert state.stage.at(T0 + timedelta(seconds=20)) == explain  # the explain came back
    assert found
    assert {(v.listing_id, v.category) for v in found} <= state.fired  # stored: not fired again
