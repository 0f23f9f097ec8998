"""What is on stage (pipeline.checks.stage): the timeline of explain/off_shelf events and the
per-stream state of the checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.checks.stage import MAX_STAGE_CHANGES, StageTimeline, StreamState
from pipeline.records import ListingEvent, TranscriptSegment

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 20, 0, tzinfo=CST)


def card(listing_id: str, event: str, at_s: float) -> ListingEvent:
    return ListingEvent(
        ts=T0 + timedelta(seconds=at_s), stream_id="s1", anchor_id="a", mcn_id="m",
        event=event, listing_id=listing_id, title=listing_id, brand="b", category="other",
    )  # type: ignore[arg-type]  # fmt: skip


def on_stage(timeline: StageTimeline, at_s: float) -> str | None:
    listing = timeline.at(T0 + timedelta(seconds=at_s))
    return listing.listing_id if listing else None


def test_an_explain_holds_the_stage_until_the_next_or_its_own_off_shelf() -> None:
    timeline = StageTimeline()
    for event in (card("L1", "explain", 10), card("L2", "off_shelf", 15), card("L2", "explain", 20),
                  card("L2", "off_shelf", 30)):  # fmt: skip
        timeline.record(event)
    assert [on_stage(timeline, t) for t in (5, 10, 16, 25, 31)] == [None, "L1", "L1", "L2", None]


def test_events_arriving_late_are_placed_at_their_own_time() -> None:
    timeline = StageTimeline()
    timeline.record(card("L2", "explain", 20))
    timeline.record(card("L1", "explain", 10))  # arrived after, happened before
    assert [on_stage(timeline, t) for t in (12, 22)] == ["L1", "L2"]


def test_only_the_latest_changes_are_kept() -> None:
    timeline = StageTimeline()
    for n in range(MAX_STAGE_CHANGES + 10):
        timeline.record(card(f"L{n}", "explain", n))
    assert len(timeline.changes) == MAX_STAGE_CHANGES
    assert on_stage(timeline, MAX_STAGE_CHANGES + 9) == f"L{MAX_STAGE_CHANGES + 9}"
    assert on_stage(timeline, 5) is None  # forgotten


def test_a_pair_fires_once_and_the_state_survives_a_snapshot() -> None:
    state = StreamState(started_at=T0)
    state.stage.record(card("L1", "explain", 10))
    assert state.fire("L1", "off_ledger") is True
    assert state.fire("L1", "off_ledger") is False
    assert StreamState.restore(state.snapshot()).fire("L1", "off_ledger") is True  # not stored yet
    state.confirm("L1", "off_ledger")
    state.confirm("L2", "price")  # never fired: nothing to confirm
    back = StreamState.restore(state.snapshot())
    assert back.fire("L1", "off_ledger") is False
    assert back.fire("L2", "price") is True
    assert back.fire("L1", "price") is True
    assert back.stage.at(T0 + timedelta(seconds=11)) == state.stage.at(T0 + timedelta(seconds=11))
    assert back.started_at == T0


def test_times_are_offsets_from_the_stream_start() -> None:
    state = StreamState(started_at=T0)
    event = card("L1", "explain", 12.5)
    assert state.span(event, None) == (event.ts, 12.5, 12.5)
    segment = TranscriptSegment("seg", "s1", 30.0, 33.5, "…")
    assert state.span(event, segment) == (T0 + timedelta(seconds=30), 30.0, 33.5)
    assert state.offset_of(T0 - timedelta(seconds=5)) == 0.0  # before the start
    with pytest.raises(ValueError, match="start"):
        StreamState().time_of(1.0)
