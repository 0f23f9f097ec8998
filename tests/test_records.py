"""Records: one JSON encoding, round trips, and validation errors that name the bad field."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import RecordError
from pipeline.records import (
    AudioChunk,
    Claim,
    DeadLetter,
    Evidence,
    LedgerEntry,
    ListingEvent,
    Qualification,
    Review,
    StreamInfo,
    TranscriptSegment,
    Violation,
    decode,
    encode,
    stable_id,
)

CST = timezone(timedelta(hours=8))
TS = datetime(2026, 11, 20, 20, 0, tzinfo=CST)

LISTING = {
    "ts": "2026-11-20T20:00:00.000+08:00",
    "stream_id": "demo-001",
    "anchor_id": "anchor-xiaomei",
    "mcn_id": "mcn-starlight",
    "event": "explain",
    "listing_id": "L1",
    "product_id": "P-1001",
    "title": "玻尿酸保湿面霜 50g",
    "brand": "水润坊",
    "category": "cosmetics",
    "price": 89.0,
    "qualifications": [{"type": "cosmetics_filing", "number": "浙G妆网备字2023001147"}],
    "selling_points": "深层保湿，质地轻薄",
    "at_segment": 2,
}

EXAMPLES = [
    StreamInfo("s1", "a1", "m1", TS, source="file.ogg"),
    AudioChunk("s1", 3, 1.5, 16000, b"\x00\x01" * 8, final=True),
    TranscriptSegment("seg", "s1", 1.0, 2.5, "全网最低价", no_speech_prob=0.1, avg_logprob=-0.3),
    decode(ListingEvent, LISTING),
    LedgerEntry(
        "P-1", "m1", "面霜", "水润坊", "cosmetics", "approved",
        reviewed_at=date(2026, 9, 2), approved_claims=("保湿",),
        qualifications=(Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2028, 12, 31)),),
    ),
    Claim("absolute", "最好", 3, 5, "high", "ABS-001", "广告法第九条第三项", requires=("x",)),
    Violation(
        "e1", "s1", "a1", "m1", "claim", "price", "high", TS, 1.0, 2.0, "speech",
        text="全网最低价",
        evidence=Evidence(reason="r", listing=decode(ListingEvent, LISTING), claims=(
            Claim("price", "全网最低价", 0, 5, "high", "PRC-1", "价格法"),
        ), segment=TranscriptSegment("seg", "s1", 1.0, 2.5, "全网最低价"), asr_low_confidence=True),
    ),
    Review("r1", "e1", "officer", "dismiss", TS, reason="quoted the law"),
    DeadLetter("listings", "bad json", b"{oops", TS, key=b"s1"),
]  # fmt: skip


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_json(record: object) -> None:
    data = encode(record)
    assert isinstance(json.loads(data), dict)
    assert decode(type(record), data) == record


def test_unknown_fields_are_kept_and_written_back() -> None:
    event = decode(ListingEvent, LISTING)
    assert event.extra == {"at_segment": 2}
    assert json.loads(encode(event))["at_segment"] == 2


def test_times_keep_their_offset() -> None:
    event = decode(ListingEvent, LISTING)
    assert event.ts.utcoffset() == timedelta(hours=8)
    assert event.ts.astimezone(UTC).hour == 12


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"ts": "2026-11-20T20:00:00"}, "ts", "no UTC offset"),
        ({"ts": "yesterday"}, "ts", "not an ISO 8601 time"),
        ({"event": "dance"}, "event", "is not one of"),
        ({"price": "cheap"}, "price", "expected a number"),
        ({"price": float("nan")}, "price", "finite"),
        ({"title": 5}, "title", "expected a string"),
        ({"qualifications": {}}, "qualifications", "expected a list"),
        ({"qualifications": [{"type": "ccc"}]}, "qualifications[0].number", "is required"),
        ({"qualifications": [{"type": "ccc", "number": "1", "valid_to": "2026-13-01"}]},
         "qualifications[0].valid_to", "not a date"),
    ],
)  # fmt: skip
def test_invalid_listing_names_the_field(change: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        decode(ListingEvent, {**LISTING, **change})
    assert caught.value.field == field
    assert reason in str(caught.value)
    assert field in str(caught.value)


@pytest.mark.parametrize("missing", ["stream_id", "anchor_id", "mcn_id", "listing_id", "title", "ts"])
def test_missing_required_field_is_named(missing: str) -> None:
    data = {k: v for k, v in LISTING.items() if k != missing}
    with pytest.raises(RecordError, match=f"'{missing}': is required"):
        decode(ListingEvent, data)


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(RecordError, match="not valid JSON"):
        decode(ListingEvent, b"{nope")
    with pytest.raises(RecordError, match="expected an object"):
        decode(ListingEvent, b"[1, 2]")


def test_error_located_in_a_file() -> None:
    err = RecordError("is required", field="title").at(source="listings.jsonl", line=7)
    assert str(err) == "listings.jsonl:7: field 'title': is required"


def test_bad_base64_pcm() -> None:
    chunk = json.loads(encode(EXAMPLES[1]))
    chunk["pcm"] = "***"
    with pytest.raises(RecordError, match="'pcm': is not valid base64"):
        decode(AudioChunk, chunk)


def test_stable_id_is_deterministic_and_distinguishes_parts() -> None:
    assert stable_id("s1", 1.5, "absolute") == stable_id("s1", 1.5, "absolute")
    assert stable_id("s1", 1.5, "absolute") != stable_id("s1", 1.5, "price")
    assert stable_id("ab", "c") != stable_id("a", "bc")
    assert len(stable_id("x")) == 32


@given(st.dictionaries(st.text(max_size=8), st.recursive(st.none() | st.integers() | st.text(), st.lists)))
def test_decode_of_arbitrary_objects_raises_only_record_errors(data: dict[str, object]) -> None:
    with contextlib.suppress(RecordError):
        decode(ListingEvent, data)


# -- values the warehouse cannot hold, or a reader cannot trust, are refused at the edge ----------


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        # ClickHouse DateTime holds 1970-01-01 00:00:00 .. 2106-02-07 06:28:15 UTC (a UInt32);
        # 18.16 refuses anything else ("argument out of range") and chdb silently clamps it
        ({"ts": "1970-01-01T00:00:00+08:00"}, "ts", "outside the range"),
        ({"ts": "1969-12-31T23:59:59Z"}, "ts", "outside the range"),
        ({"ts": "2106-02-07T06:28:16Z"}, "ts", "outside the range"),
        ({"ts": "0001-01-02T00:00:00+00:00"}, "ts", "outside the range"),
        ({"stream_id": ""}, "stream_id", "is empty"),
        ({"stream_id": "  "}, "stream_id", "is empty"),
        ({"listing_id": ""}, "listing_id", "is empty"),
        ({"mcn_id": ""}, "mcn_id", "is empty"),
        ({"anchor_id": "a</script><script>alert(1)</script>"}, "anchor_id", "is not an id"),
        ({"mcn_id": "mcn a"}, "mcn_id", "is not an id"),
        ({"stream_id": "room/../../etc"}, "stream_id", "is not an id"),
        ({"anchor_id": "a" * 129}, "anchor_id", "is not an id"),
        ({"price": -0.01}, "price", "negative"),
        ({"title": "面霜\x00最好"}, "title", "control character U+0000"),
        ({"title": "面霜\u202e好最"}, "title", "control character U+202E"),
        ({"brand": "水润\u2066坊"}, "brand", "control character U+2066"),
        ({"selling_points": "保湿\x1b[31m"}, "selling_points", "control character U+001B"),
        ({"title": "面霜\ud800"}, "title", "not valid Unicode"),
        ({"qualifications": [{"type": "ccc", "number": "1\x00"}]}, "qualifications[0].number", "U+0000"),
    ],
)  # fmt: skip
def test_listing_values_the_warehouse_or_a_reader_cannot_take_are_refused(
    change: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(RecordError) as caught:
        decode(ListingEvent, {**LISTING, **change})
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_ids_of_letters_in_any_script_digits_and_punctuation_are_accepted() -> None:
    for anchor in ("anchor-xiaomei", "主播_小美", "douyin:12345", "a.b@mcn+1", "a" * 128):
        assert decode(ListingEvent, {**LISTING, "anchor_id": anchor}).anchor_id == anchor


def test_times_at_the_edges_of_the_warehouse_range_and_ordinary_text_are_accepted() -> None:
    for ts in ("1970-01-01T08:00:00+08:00", "2106-02-07T06:28:15Z"):
        assert decode(ListingEvent, {**LISTING, "ts": ts}).ts.tzinfo is not None
    text = "玻尿酸\t面霜\n50g（新）"
    assert decode(ListingEvent, {**LISTING, "title": text, "price": 0}).title == text


@pytest.mark.parametrize(
    ("record", "change", "field"),
    [
        (StreamInfo, {"stream_id": ""}, "stream_id"),
        (StreamInfo, {"started_at": "1969-12-31T23:00:00Z"}, "started_at"),
        (StreamInfo, {"ended_at": "2200-01-01T00:00:00Z"}, "ended_at"),
        (AudioChunk, {"stream_id": ""}, "stream_id"),
        (AudioChunk, {"stream_id": "s\u202e1"}, "stream_id"),
        (StreamInfo, {"anchor_id": "<img src=x>"}, "anchor_id"),
        (AudioChunk, {"mcn_id": "mcn&co"}, "mcn_id"),
    ],
)
def test_stream_facts_and_pieces_refuse_empty_ids_and_unstorable_times(
    record: type, change: dict[str, object], field: str
) -> None:
    example = next(e for e in EXAMPLES if type(e) is record)
    with pytest.raises(RecordError) as caught:
        decode(record, {**json.loads(encode(example)), **change})
    assert caught.value.field == field
