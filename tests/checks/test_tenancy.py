"""A stream's party (MCN, anchor) is its registration's (the stream record), never a record's own:
a listing or a piece naming another MCN is refused, as is the stream id registered again by
another MCN (issue 16, item 5)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.checks.monitor import Monitor, build_monitor
from pipeline.config import load_settings
from pipeline.errors import RecordError
from pipeline.records import (
    AudioChunk,
    LedgerEntry,
    ListingEvent,
    Qualification,
    StreamInfo,
    TranscriptSegment,
)
from pipeline.stream.runtime import Runtime

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 20, 0, tzinfo=CST)
INFO = StreamInfo("s1", "anchor-1", "mcn-1", T0)
FILING = Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2028, 12, 31))
ROW = LedgerEntry(
    "P-1", "mcn-1", "玻尿酸保湿面霜", "水润坊", "cosmetics", "approved", qualifications=(FILING,)
)
# the other MCN has the same product on its ledger, approved, with a registration
SPECIAL = Qualification("cosmetics_special_registration", "国妆特字G20230001", date(2028, 12, 31))
OTHER_ROW = replace(ROW, mcn_id="mcn-2", qualifications=(FILING, SPECIAL))
CARD = ListingEvent(
    ts=T0 + timedelta(seconds=10), stream_id="s1", anchor_id="anchor-1", mcn_id="mcn-1", event="explain",
    listing_id="L1", title="玻尿酸保湿面霜", brand="水润坊", category="cosmetics", product_id="P-1",
    qualifications=(Qualification(FILING.type, FILING.number),),
)  # fmt: skip
SPOOFED = replace(CARD, mcn_id="mcn-2", listing_id="L2", ts=T0 + timedelta(seconds=20))


def monitor() -> Monitor:
    watching = build_monitor()
    watching.load_ledger([ROW, OTHER_ROW])
    watching.on_stream(INFO)
    return watching


def said(text: str, at_s: float) -> TranscriptSegment:
    return TranscriptSegment(f"seg-{at_s}", "s1", at_s, at_s + 3.0, text)


def test_a_listing_naming_another_mcn_is_refused_and_moves_nothing() -> None:
    watching = monitor()
    watching.on_listing(CARD)
    with pytest.raises(RecordError, match="mcn-2") as refused:
        watching.on_listing(SPOOFED)
    assert type(refused.value).__name__ == "TenantMismatch"
    assert refused.value.field == "mcn_id"
    assert "mcn-1" in str(refused.value)  # the registration it disagrees with
    # the stage is the room's own listing still: the room's speech stays the room's MCN's
    found = watching.on_segment(said("用了以后还能美白", 30.0))
    assert {(v.mcn_id, v.listing_id) for v in found} == {("mcn-1", "L1")}
    assert "efficacy_without_registration" in {v.category for v in found}  # mcn-2's registration is no cover


def test_a_listing_naming_another_anchor_is_refused() -> None:
    with pytest.raises(RecordError, match="anchor-9") as refused:
        monitor().on_listing(replace(CARD, anchor_id="anchor-9"))
    assert refused.value.field == "anchor_id"


def test_a_foreign_listing_seen_before_the_registration_leaves_the_stage_when_it_comes() -> None:
    watching = build_monitor()
    watching.load_ledger([ROW, OTHER_ROW])
    watching.on_listing(SPOOFED)  # no registration yet: nothing to hold it against
    watching.on_stream(INFO)
    found = watching.on_segment(said("用了以后还能美白", 30.0))
    assert {(v.mcn_id, v.listing_id) for v in found} == {("mcn-1", None)}


def test_the_stream_registered_again_by_another_mcn_is_refused_and_keeps_its_party() -> None:
    watching = monitor()
    with pytest.raises(RecordError, match="mcn-2") as refused:
        watching.on_stream(replace(INFO, mcn_id="mcn-2"))
    assert type(refused.value).__name__ == "TenantMismatch"
    assert watching.stream("s1") == INFO
    ended = replace(INFO, ended_at=T0 + timedelta(hours=1))
    watching.on_stream(ended)  # its own end announcement is no re-registration
    assert watching.stream("s1") == ended


def test_a_piece_naming_another_mcn_is_refused_by_the_runtime() -> None:
    none: Any = None
    rt = Runtime(settings=load_settings(), store=none, monitor=monitor(), transcriber=none, sink=none)
    own = AudioChunk(
        "s1", 0, 0.0, 16_000, b"\0\0" * 1600, anchor_id="anchor-1", mcn_id="mcn-1", started_at=T0
    )
    assert asyncio.run(rt.check_chunk(own)) == own
    assert asyncio.run(rt.check_chunk(replace(own, mcn_id="", anchor_id="", started_at=None))).seq == 0
    with pytest.raises(RecordError, match="mcn-2"):
        asyncio.run(rt.check_chunk(replace(own, mcn_id="mcn-2")))
    assert rt.monitor.stream("s1") == INFO
