"""A stream taken back from the warehouse after a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.records import ListingEvent, StreamInfo, encode
from pipeline.warehouse import Store
from pipeline.warehouse.rows import listing_row, stream_row
from pipeline.warehouse.streams import stored_stream

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_stored_event_the_edge_now_refuses_is_left_out_of_the_restore(store: Store) -> None:
    store.insert("streams", [stream_row(StreamInfo("s1", "a1", "m1", T0))])
    good = ListingEvent(T0, "s1", "a1", "m1", "explain", "L1", "面霜", "水润坊", "cosmetics")
    old = ListingEvent(
        T0 + timedelta(seconds=5), "s1", "a1", "m1", "explain", "L2", "面\x00霜", "牌", "cosmetics"
    )
    rows = [listing_row(good, "e1"), listing_row(old, "e2")]  # stored before titles were checked
    assert json.loads(rows[1]["raw"])["title"] == "面\x00霜"
    store.insert("listings", rows)
    restored = stored_stream(store, "s1")
    assert restored is not None
    assert [encode(e) for e in restored.stage_events] == [encode(good)]


def test_a_streams_end_and_its_reason_are_stored_and_restored(store: Store) -> None:
    """A live source gone for good ends its stream with the reason (issue 15, item 6): stored."""
    start = StreamInfo("s2", "a1", "m1", T0)
    gone = StreamInfo(
        "s2", "a1", "m1", T0, ended_at=T0 + timedelta(minutes=3), end_reason="the source was gone for 300 s"
    )
    store.insert("streams", [stream_row(start), stream_row(gone)])
    rows = store.query("SELECT end_reason FROM streams FINAL WHERE stream_id = 's2'")
    assert rows == [{"end_reason": "the source was gone for 300 s"}]
    restored = stored_stream(store, "s2")
    assert restored is not None
    assert restored.info == gone
