"""Warehouse data for the scoring, console and evidence tests: two MCNs in November 2026.

- ``mcn-starlight``: the sample stream ``demo-001`` (pipeline/sample, with its archived audio),
  anchor ``anchor-xiaomei``, 2 monitored hours, the sample's claims and checks as violations; a
  ledger imported twice (P-1001's qualification changed after the stream, so evidence must show
  the first version) with one approved row holding an expired qualification.
- ``mcn-rival``: anchor ``anchor-zhao``, stream ``rival-001`` (no archived audio), whose texts all
  carry ``RIVAL_SECRET`` so a test can tell at once if any of it leaks to a starlight officer.

Rows are written through ``pipeline/warehouse/rows.py`` (records → rows), as the pipeline does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.records import (
    LedgerEntry,
    ListingEvent,
    Qualification,
    StreamInfo,
    TranscriptSegment,
    Violation,
    decode,
    stable_id,
)
from pipeline.sample import SAMPLE_DIR
from pipeline.warehouse import Store
from pipeline.warehouse.rows import ledger_row, listing_row, stream_row, transcript_row, violation_row

SAMPLE = SAMPLE_DIR
AUDIO = SAMPLE / "stream.ogg"
TIMELINE = json.loads((SAMPLE / "timeline.json").read_text(encoding="utf-8"))
PERIOD = "2026-11"
SECRET = "RIVAL_SECRET"

STARLIGHT = StreamInfo("demo-001", "anchor-xiaomei", "mcn-starlight", datetime(2026, 11, 20, 12, tzinfo=UTC))
RIVAL = StreamInfo("rival-001", "anchor-zhao", "mcn-rival", datetime(2026, 11, 10, 12, tzinfo=UTC))

_SEVERITY = {
    "absolute": "medium",
    "price": "high",
    "efficacy": "high",
    "medical": "high",
    "superstition": "low",
}
_LEGAL = {
    "absolute": "《广告法》第九条第三项",
    "price": "《价格法》第十四条；《明码标价和禁止价格欺诈规定》第十九条",
    "efficacy": "《化妆品监督管理条例》第十六条、第十七条",
    "medical": "《广告法》第十七条",
    "superstition": "《广告法》第九条第八项",
}
_TERMS = {
    "absolute": "最",
    "price": "全网最低价",
    "efficacy": "美白祛斑",
    "medical": "降血压",
    "superstition": "招财转运",
}
_LISTING_PRODUCT = {"L1": "P-1001", "L2": "P-1002", "L3": None, "L4": "P-1004"}


def _q(kind: str, number: str, valid_to: str | None) -> Qualification:
    return Qualification(kind, number, date.fromisoformat(valid_to) if valid_to else None)


def starlight_ledger(version: int) -> list[LedgerEntry]:
    """The starlight ledger; version 2 (imported after the stream) renewed P-1001's filing."""
    p1001_to = "2027-06-30" if version == 1 else "2031-06-30"
    row = LedgerEntry
    return [
        row(
            "P-1001",
            "mcn-starlight",
            "玻尿酸保湿面霜 50g",
            "水润坊",
            "cosmetics",
            "approved",
            supplier="杭州水润坊化妆品有限公司",
            reviewed_at=date(2026, 9, 2),
            reviewer="王敏",
            approved_claims=("深层保湿", "质地轻薄"),
            qualifications=(_q("cosmetics_filing", "浙G妆网备字2023001147", p1001_to),),
        ),
        row(
            "P-1002",
            "mcn-starlight",
            "红枣枸杞茶 150g",
            "宁夏红",
            "food",
            "approved",
            reviewed_at=date(2026, 9, 5),
            reviewer="王敏",
            qualifications=(_q("food_production_license", "SC11664010600017", "2029-06-30"),),
        ),
        row(
            "P-1004",
            "mcn-starlight",
            "新疆长绒棉睡衣套装",
            "棉语",
            "apparel",
            "approved",
            reviewed_at=date(2026, 9, 10),
            reviewer="李强",
        ),
        row(
            "P-1005",
            "mcn-starlight",
            "维生素C咀嚼片",
            "健力源",
            "health_food",
            "approved",
            reviewed_at=date(2026, 8, 15),
            reviewer="",
            qualifications=(_q("health_food_registration", "国食健注G20170396", "2026-10-31"),),
        ),
        row(
            "P-1006",
            "mcn-starlight",
            "氨基酸洗面奶 120ml",
            "水润坊",
            "cosmetics",
            "pending",
            qualifications=(_q("cosmetics_filing", "浙G妆网备字2024003321", "2029-01-31"),),
        ),
    ]


RIVAL_LEDGER = [
    LedgerEntry(
        "P-9001",
        "mcn-rival",
        f"{SECRET} 神奇面膜",
        "对手牌",
        "cosmetics",
        "approved",
        reviewed_at=date(2026, 10, 1),
        reviewer="赵六",
        qualifications=(_q("cosmetics_filing", "粤G妆网备字2022000001", "2028-01-01"),),
    ),
]


def starlight_listings() -> list[ListingEvent]:
    lines = (SAMPLE / "listings.jsonl").read_text(encoding="utf-8").splitlines()
    return [decode(ListingEvent, line) for line in lines if line.strip()]


def rival_listing() -> ListingEvent:
    return ListingEvent(
        RIVAL.started_at + timedelta(minutes=1),
        RIVAL.stream_id,
        RIVAL.anchor_id,
        RIVAL.mcn_id,
        "explain",
        "R1",
        f"{SECRET} 神奇面膜",
        "对手牌",
        "cosmetics",
        product_id="P-9001",
        qualifications=(_q("cosmetics_filing", "粤G妆网备字2022000001", "2028-01-01"),),
    )


def starlight_transcript() -> list[TranscriptSegment]:
    return [
        TranscriptSegment(
            stable_id(STARLIGHT.stream_id, i), STARLIGHT.stream_id, s["start"], s["end"], s["text"]
        )
        for i, s in enumerate(TIMELINE["segments"])
    ]


def _violation(
    stream: StreamInfo, kind: str, category: str, seg: dict[str, Any], listing: str | None, **more: Any
) -> Violation:
    return Violation(
        event_id=stable_id("violation", stream.stream_id, kind, category, seg["start"], listing),
        stream_id=stream.stream_id,
        anchor_id=stream.anchor_id,
        mcn_id=stream.mcn_id,
        kind=kind,  # type: ignore[arg-type]
        category=category,
        severity=more.pop("severity", _SEVERITY.get(category, "high")),
        ts=stream.started_at + timedelta(seconds=seg["start"]),
        offset_s=seg["start"],
        end_offset_s=seg["end"],
        source=more.pop("source", "speech"),
        listing_id=listing,
        product_id=_LISTING_PRODUCT.get(listing or "") if stream is STARLIGHT else "P-9001",
        text=seg["text"],
        **more,
    )


def starlight_violations() -> list[Violation]:
    found = []
    for seg in TIMELINE["segments"]:
        for category in seg["labels"]:
            found.append(
                _violation(
                    STARLIGHT,
                    "claim",
                    category,
                    seg,
                    seg["product"],
                    term=_TERMS[category],
                    rule_id=f"{category}-001",
                    legal_basis=_LEGAL[category],
                    rewrite="请如实描述产品，避免绝对化、功效或医疗用语。",
                )
            )
    seg13, seg6 = TIMELINE["segments"][13], TIMELINE["segments"][6]
    found.append(
        _violation(
            STARLIGHT,
            "ledger",
            "off_ledger",
            seg13,
            "L3",
            source="listing",
            severity="high",
            legal_basis="SITI 1001-2021 选品台账",
        )
    )
    found.append(
        _violation(
            STARLIGHT,
            "qualification",
            "efficacy_without_registration",
            seg6,
            "L1",
            legal_basis="《化妆品监督管理条例》第十六条",
            term="美白祛斑",
        )
    )
    return found


def rival_violations() -> list[Violation]:
    segs = [
        {"start": 60.0 * i, "end": 60.0 * i + 5, "text": f"{SECRET} 第{i}句 全网最低价"} for i in range(1, 4)
    ]
    return [
        _violation(RIVAL, "claim", "price", s, "R1", term="全网最低价", legal_basis=_LEGAL["price"])
        for s in segs
    ]


def seed(store: Store, *, audio: Path | None = AUDIO) -> None:
    """Write the whole scenario."""
    store.insert(
        "streams",
        [
            stream_row(
                replace(
                    STARLIGHT, ended_at=STARLIGHT.started_at + timedelta(hours=2), audio_path=str(audio or "")
                )
            ),
            stream_row(replace(RIVAL, ended_at=RIVAL.started_at + timedelta(hours=1))),
        ],
    )
    store.insert("transcripts", [transcript_row(s, STARLIGHT) for s in starlight_transcript()])
    rival_seg = TranscriptSegment("rival-seg-1", RIVAL.stream_id, 60.0, 65.0, f"{SECRET} 第1句 全网最低价")
    store.insert("transcripts", [transcript_row(rival_seg, RIVAL)])
    events = [*starlight_listings(), rival_listing()]
    store.insert(
        "listings",
        [listing_row(e, stable_id("listing", e.stream_id, e.ts, e.event, e.listing_id)) for e in events],
    )
    for version, at in ((1, datetime(2026, 9, 1, tzinfo=UTC)), (2, datetime(2026, 11, 21, tzinfo=UTC))):
        rows = [
            ledger_row(e, imported_at=at, import_id=f"import-{version}") for e in starlight_ledger(version)
        ]
        store.insert("ledger", rows)
    store.insert(
        "ledger",
        [ledger_row(e, imported_at=datetime(2026, 10, 1, tzinfo=UTC), import_id="r1") for e in RIVAL_LEDGER],
    )
    store.insert("violations", [violation_row(v) for v in [*starlight_violations(), *rival_violations()]])
