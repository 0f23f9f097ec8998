"""The monitor (pipeline.checks.monitor): speech claims on the product on stage, the ledger, a
stream's state taken out and back in, and its release at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from pipeline.checks.monitor import Monitor, UnknownStream, build_monitor
from pipeline.records import LedgerEntry, ListingEvent, Qualification, StreamInfo, TranscriptSegment

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 20, 0, tzinfo=CST)
INFO = StreamInfo("s1", "anchor-1", "mcn-1", T0)
FILING = Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2028, 12, 31))
ROW = LedgerEntry(
    "P-1", "mcn-1", "玻尿酸保湿面霜", "水润坊", "cosmetics", "approved", qualifications=(FILING,)
)
CARD = ListingEvent(
    ts=T0 + timedelta(seconds=10), stream_id="s1", anchor_id="anchor-1", mcn_id="mcn-1", event="explain",
    listing_id="L1", title="玻尿酸保湿面霜", brand="水润坊", category="cosmetics", product_id="P-1",
    qualifications=(Qualification(FILING.type, FILING.number),),
)  # fmt: skip


def monitor() -> Monitor:
    watching = build_monitor()
    watching.load_ledger([ROW])
    watching.on_stream(INFO)
    return watching


def said(text: str, at_s: float, segment_id: str = "") -> TranscriptSegment:
    return TranscriptSegment(segment_id or f"seg-{at_s}", "s1", at_s, at_s + 3.0, text)


def test_a_claim_heard_is_one_violation_per_category_on_the_product_on_stage() -> None:
    watching = monitor()
    assert watching.on_listing(CARD) == []  # on the ledger, approved, qualified: nothing
    found = watching.on_segment(said("这个价格是全网最低价", 20.0))
    assert {(v.category, v.listing_id, v.product_id) for v in found} == {
        ("absolute", "L1", "P-1"),
        ("price", "L1", "P-1"),
    }
    price = next(v for v in found if v.category == "price")
    assert (price.source, price.offset_s, price.ts) == ("speech", 20.0, T0 + timedelta(seconds=20))
    assert price.evidence.listing == CARD
    assert price.evidence.segment is not None
    assert price.evidence.segment.text == "这个价格是全网最低价"
    assert {c.category for c in price.evidence.claims} == {"price"}


def test_before_any_explain_a_claim_belongs_to_no_listing() -> None:
    (v,) = [v for v in monitor().on_segment(said("戴上就能招财转运", 5.0)) if v.category == "superstition"]
    assert (v.listing_id, v.product_id, v.evidence.listing) == (None, None, None)


def test_an_efficacy_claim_without_registration_is_cross_checked() -> None:
    watching = monitor()
    watching.on_listing(CARD)
    found = {v.category for v in watching.on_segment(said("用了以后还能美白", 30.0))}
    assert found == {"efficacy", "efficacy_without_registration"}


def test_ids_depend_on_the_segment_and_category_not_the_words() -> None:
    one = monitor().on_segment(said("这是全网最低价", 20.0, "seg-a"))
    other = monitor().on_segment(said("这是全网最低价哦宝宝们", 20.0, "seg-a"))
    elsewhere = monitor().on_segment(said("这是全网最低价", 20.0, "seg-b"))
    assert {v.event_id for v in one} == {v.event_id for v in other}
    assert not {v.event_id for v in one} & {v.event_id for v in elsewhere}


def test_a_segment_of_an_unknown_stream_is_refused() -> None:
    with pytest.raises(UnknownStream, match="'s9'"):
        monitor().on_segment(replace(said("全网最低价", 1.0), stream_id="s9"))


def test_an_unknown_stream_raised_inside_a_with_block_stays_itself() -> None:
    """As a frozen, slotted dataclass it could not take the traceback a generator context manager
    sets on it: the worker's transcribe agent crashed with TypeError('super(type, obj)…')."""

    @contextmanager
    def held() -> Iterator[None]:
        yield

    with pytest.raises(UnknownStream, match="'s9'") as raised, held():
        monitor().on_segment(replace(said("全网最低价", 1.0), stream_id="s9"))
    assert raised.value.stream_id == "s9"
    assert raised.value.__traceback__ is not None


def test_a_snapshot_restored_elsewhere_keeps_the_stage_and_what_fired() -> None:
    first = monitor()
    first.on_listing(CARD)
    found = first.on_segment(said("用了能美白", 30.0))
    assert {v.category for v in found} >= {"efficacy_without_registration"}
    first.confirm(found)  # stored
    snapshot = first.snapshot("s1")
    assert snapshot is not None
    second = build_monitor()
    second.load_ledger([ROW])
    second.restore(snapshot)
    assert second.stream("s1") == INFO
    again = second.on_segment(said("真的能美白", 40.0))
    assert {v.listing_id for v in again} == {"L1"}  # the stage came back
    assert "efficacy_without_registration" not in {v.category for v in again}  # it already fired


def test_what_fired_but_was_not_stored_yet_fires_again_where_the_stream_is_taken_over() -> None:
    """bench/chaos.py: the snapshot went into the table (a listing event) while the violation
    waited for the warehouse; the worker was killed; its successor took the snapshot, heard the
    segment again and said nothing: efficacy_without_registration lost in every stream."""
    first = monitor()
    first.on_listing(CARD)
    fired = [v for v in first.on_segment(said("用了能美白", 30.0)) if v.kind == "qualification"]
    snapshot = first.snapshot("s1")  # before the violation is stored
    assert snapshot is not None
    second = build_monitor()
    second.load_ledger([ROW])
    second.restore(snapshot)
    again = [v for v in second.on_segment(said("用了能美白", 30.0)) if v.kind == "qualification"]
    assert [v.event_id for v in again] == [v.event_id for v in fired] != []  # the same id, stored once
    second.confirm(again)
    assert [v for v in second.on_segment(said("真的能美白", 40.0)) if v.kind == "qualification"] == []


def test_a_stream_restored_from_its_stage_events() -> None:
    watching = build_monitor()
    watching.restore_events(INFO, [CARD])
    assert {v.listing_id for v in watching.on_segment(said("全网最低价", 20.0))} == {"L1"}


def test_ending_a_stream_releases_it() -> None:
    watching = monitor()
    watching.on_listing(CARD)
    watching.end_stream("s1")
    assert not watching.knows("s1")
    assert watching.snapshot("s1") is None
    with pytest.raises(UnknownStream):
        watching.on_segment(said("全网最低价", 20.0))


def test_the_ledger_is_asked_through_the_monitor() -> None:
    watching = build_monitor()
    assert watching.ledger_entry("mcn-1", "P-1") is None
    watching.on_ledger(ROW)
    assert watching.ledger_entry("mcn-1", "P-1") == ROW
    watching.on_ledger_removed("mcn-1", "P-1")
    assert watching.ledger_entry("mcn-1", "P-1") is None
    watching.on_stream(INFO)
    (off,) = watching.on_listing(CARD)
    assert off.category == "off_ledger"


def test_replay_orders_a_recorded_stream_and_gives_the_live_ids() -> None:
    live = monitor()
    live.on_listing(CARD)
    online = live.on_segment(said("全网最低价", 20.0))
    recorded = monitor().replay(INFO, [CARD], [said("全网最低价", 20.0)])
    assert sorted(v.event_id for v in recorded) == sorted(v.event_id for v in online)
