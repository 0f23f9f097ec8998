"""Rooms on air for the live wall's tests, relative to a given moment ``now``.

With the default thresholds (stall after 60 s of silence, ended after 600 s, kept 1800 s, a 600 s
window), the certifier's wall at ``now`` is, riskiest first: wall-a (two high hits in the window),
wall-c (mcn-rival, one medium), wall-b (stalled: silent for three minutes), then the ended rooms
wall-d (announced, with a low hit) and wall-e (silent for twenty minutes). wall-f (silent for two
days, never announced) and wall-g (ended two hours ago) are not shown.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from pipeline.records import ListingEvent, StreamInfo, TranscriptSegment, Violation, stable_id
from pipeline.warehouse import Store
from pipeline.warehouse.rows import listing_event_id, listing_row, stream_row, transcript_row, violation_row
from tests import scenario

STARLIGHT, RIVAL = "mcn-starlight", "mcn-rival"
PRODUCT = "玻尿酸水润精华液 30ml"


def room(
    stream_id: str, anchor: str, mcn: str, started_ago_s: float, now: datetime, **more: object
) -> StreamInfo:
    return StreamInfo(stream_id, anchor, mcn, now - timedelta(seconds=started_ago_s), **more)  # type: ignore[arg-type]


def speech(stream: StreamInfo, at: datetime, text: str = "大家好，欢迎来到直播间") -> dict[str, object]:
    """A transcript row of five seconds of speech ending at ``at``."""
    offset = (at - stream.started_at).total_seconds() - 5
    segment = TranscriptSegment(
        stable_id(stream.stream_id, offset), stream.stream_id, offset, offset + 5, text
    )
    return transcript_row(segment, stream)


# what each sentence the wall's tests say claims: (category, the term, its legal basis)
CLAIMS = {
    "用了就能美白淡斑": ("efficacy", "美白淡斑", "《化妆品监督管理条例》第十六条、第十七条"),
    "这款精华能治疗痘痘": ("medical", "治疗", "《广告法》第十七条"),
    "这款精华三天就能根治湿疹": ("medical", "根治", "《广告法》第十七条"),
    "全网最低价": ("price", "全网最低价", "《明码标价和禁止价格欺诈规定》第十九条"),
    "全网最低价，今天只要九块九": ("price", "全网最低价", "《明码标价和禁止价格欺诈规定》第十九条"),
}


def hit(
    stream: StreamInfo, at: datetime, severity: str, event_id: str, text: str = "用了就能美白淡斑"
) -> Violation:
    """A speech claim ``text`` (one of CLAIMS) said in ``stream`` at ``at``."""
    template = scenario.starlight_violations()[0]
    category, term, basis = CLAIMS[text]
    offset = (at - stream.started_at).total_seconds()
    return replace(
        template, event_id=event_id, stream_id=stream.stream_id, anchor_id=stream.anchor_id,
        mcn_id=stream.mcn_id, severity=severity, ts=at, offset_s=offset, end_offset_s=offset + 3,
        text=text, category=category, term=term, rule_id=f"{category}-001", legal_basis=basis,
        listing_id=None, product_id=None,
    )  # fmt: skip


def on_stage(stream: StreamInfo, at: datetime, event: str = "explain") -> dict[str, object]:
    listing = ListingEvent(
        at, stream.stream_id, stream.anchor_id, stream.mcn_id, event, "L1", PRODUCT, "水润坊", "cosmetics"
    )  # type: ignore[arg-type]
    return listing_row(listing, listing_event_id(listing))


def seed_wall(store: Store, now: datetime) -> dict[str, StreamInfo]:
    ago = lambda s: now - timedelta(seconds=s)  # noqa: E731
    a = room("wall-a", "anchor-xiaomei", STARLIGHT, 1200, now)
    b = room("wall-b", "anchor-lin", STARLIGHT, 1800, now)
    c = room("wall-c", "anchor-zhao", RIVAL, 900, now)
    d = room("wall-d", "anchor-qian", STARLIGHT, 3600, now, ended_at=ago(300))
    e = room("wall-e", "anchor-sun", STARLIGHT, 3600, now)
    f = room("wall-f", "anchor-zhou", STARLIGHT, 2 * 86400, now)
    g = room("wall-g", "anchor-wu", STARLIGHT, 4 * 3600, now, ended_at=ago(7200))
    rooms = {r.stream_id: r for r in (a, b, c, d, e, f, g)}
    store.insert("streams", [stream_row(r) for r in rooms.values()])
    store.insert(
        "transcripts",
        [speech(a, ago(5)), speech(a, ago(400)), speech(b, ago(180)), speech(c, ago(10)), speech(d, ago(320)),
         speech(e, ago(1200)), speech(f, ago(2 * 86400 - 60)), speech(g, ago(7300))],
    )  # fmt: skip
    store.insert(
        "listings", [on_stage(a, ago(600)), on_stage(b, ago(900)), on_stage(b, ago(800), "off_shelf")]
    )
    store.insert(
        "violations",
        [violation_row(v) for v in (
            hit(a, ago(30), "high", "wall-a-1", "这款精华能治疗痘痘"), hit(a, ago(120), "high", "wall-a-2"),
            hit(a, ago(900), "high", "wall-a-old"), hit(a, ago(200), "medium", "wall-a-3"),
            hit(c, ago(60), "medium", "wall-c-1", "全网最低价"), hit(d, ago(400), "low", "wall-d-1"),
            hit(f, ago(2 * 86400 - 90), "high", "wall-f-1"),
        )],
    )  # fmt: skip
    return rooms
