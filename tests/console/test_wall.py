"""The live wall: its pure parts (risk order, live → stalled → ended) and its queries on the
embedded and the server warehouse, scoped to the reader's MCN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipeline.config import Settings, load_settings
from pipeline.console.users import add_user
from pipeline.console.wall import Hit, Room, WallError, WallRules, by_risk, on_wall, room_state, wall_rooms
from pipeline.errors import ConfigError
from pipeline.records import Review
from pipeline.reporting.scope import Scope
from pipeline.warehouse import Store
from pipeline.warehouse.rows import review_row
from tests.console_support import PASSWORD, log_in, running_console
from tests.wall_support import PRODUCT, RIVAL, STARLIGHT, seed_wall

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
RULES = WallRules(window_s=600, stall_s=60, end_s=600, keep_s=1800)


def state_at(silent_s: float, **more: object) -> tuple[str, datetime | None, str]:
    started = NOW - timedelta(hours=1)
    return room_state(NOW, RULES, started_at=started, last_audio=NOW - timedelta(seconds=silent_s), **more)  # type: ignore[arg-type]


def test_a_room_goes_from_live_to_stalled_to_ended_as_its_silence_grows() -> None:
    assert state_at(0) == ("live", None, "")
    assert state_at(59.9) == ("live", None, "")
    assert state_at(60) == ("stalled", None, "")
    assert state_at(599) == ("stalled", None, "")
    state, ended, why = state_at(900)
    assert (state, why) == ("ended", "silence")
    assert ended == NOW - timedelta(seconds=300)  # last sound + end_s


def test_a_room_without_speech_counts_its_silence_from_its_start() -> None:
    assert room_state(NOW, RULES, started_at=NOW - timedelta(seconds=30), last_audio=None)[0] == "live"
    assert room_state(NOW, RULES, started_at=NOW - timedelta(seconds=90), last_audio=None)[0] == "stalled"
    assert room_state(NOW, RULES, started_at=NOW - timedelta(seconds=700), last_audio=None)[0] == "ended"


def test_an_announced_end_wins_and_says_whether_the_source_was_lost() -> None:
    at = NOW - timedelta(seconds=10)
    assert state_at(1, ended_at=at) == ("ended", at, "announced")
    assert state_at(1, ended_at=at, end_reason="source gone for good") == ("ended", at, "source")
    assert state_at(1, ended_at=NOW + timedelta(seconds=5))[0] == "live"  # announced for later


def test_an_ended_room_stays_on_the_wall_for_the_keep_time() -> None:
    assert on_wall(NOW, RULES, "live", None)
    assert on_wall(NOW, RULES, "ended", NOW - timedelta(seconds=1800))
    assert not on_wall(NOW, RULES, "ended", NOW - timedelta(seconds=1801))


def test_thresholds_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(WallError, match="stall"):
        WallRules(stall_s=600, end_s=600)
    with pytest.raises(WallError, match="positive"):
        WallRules(window_s=0)
    with pytest.raises(ConfigError, match="console_wall_stall_s"):
        load_settings(console_wall_stall_s=900)


def _room(sid: str, state: str = "live", *, hit_s: float | None = None, **counts: int) -> Room:
    hit = (
        None
        if hit_s is None
        else Hit("e-" + sid, NOW - timedelta(seconds=hit_s), "price", False, "high", "", "")
    )
    return Room(sid, "a", "m", NOW, state, counts=counts, last_hit=hit)  # type: ignore[arg-type]


def test_rooms_are_ordered_by_risk() -> None:
    rooms = [
        _room("ended-high", "ended", high=5),
        _room("quiet"),
        _room("mediums", medium=9, hit_s=5),
        _room("one-high-old", high=1, hit_s=500),
        _room("one-high-new", high=1, hit_s=10),
        _room("two-high", "stalled", high=2, low=1),
        _room("low", low=3, hit_s=1),
        _room("a-quiet"),
    ]
    order = [r.stream_id for r in by_risk(rooms)]
    assert order == [
        "two-high", "one-high-new", "one-high-old", "mediums", "low", "a-quiet", "quiet", "ended-high",
    ]  # fmt: skip


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_wall(store, NOW)
    return store


def test_the_wall_shows_rooms_on_air_riskiest_first_with_their_stage_and_hits(seeded: Store) -> None:
    rooms = wall_rooms(seeded, Scope.everything(), RULES, NOW)
    assert [(r.stream_id, r.state) for r in rooms] == [
        ("wall-a", "live"),
        ("wall-c", "live"),
        ("wall-b", "stalled"),
        ("wall-d", "ended"),
        ("wall-e", "ended"),
    ]
    a = rooms[0]
    assert dict(a.counts) == {"high": 2, "medium": 1, "low": 0}  # wall-a-old is outside the window
    assert a.last_hit is not None
    assert a.last_hit.event_id == "wall-a-1"
    assert a.last_hit.text == "这款精华能治疗痘痘"
    assert a.last_hit.ts == NOW - timedelta(seconds=30)
    assert a.last_audio == NOW - timedelta(seconds=5)
    assert a.product == PRODUCT
    b = rooms[2]
    assert b.product == ""  # its product went off the shelf
    assert b.last_audio == NOW - timedelta(seconds=180)
    d, e = rooms[3], rooms[4]
    assert (d.end_reason, d.ended_at) == ("announced", NOW - timedelta(seconds=300))
    assert (e.end_reason, e.ended_at) == ("silence", NOW - timedelta(seconds=600))
    assert d.last_hit is not None
    assert d.last_hit.severity == "low"


def test_an_officer_never_sees_another_mcns_room(seeded: Store) -> None:
    mine = wall_rooms(seeded, Scope.only(STARLIGHT), RULES, NOW)
    assert [r.stream_id for r in mine] == ["wall-a", "wall-b", "wall-d", "wall-e"]
    assert {r.mcn_id for r in mine} == {STARLIGHT}
    rival = wall_rooms(seeded, Scope.only(RIVAL), RULES, NOW)
    assert [r.stream_id for r in rival] == ["wall-c"]
    assert wall_rooms(seeded, Scope(frozenset()), RULES, NOW) == []


def test_time_moves_rooms_along_and_a_dismissed_hit_stops_counting(seeded: Store) -> None:
    later = NOW + timedelta(minutes=9)  # wall-a and wall-c silent for 9 minutes: stalled
    rooms = {r.stream_id: r for r in wall_rooms(seeded, Scope.everything(), RULES, later)}
    assert rooms["wall-a"].state == "stalled"
    assert dict(rooms["wall-a"].counts)["high"] == 1
    assert "wall-d" in rooms
    assert "wall-e" in rooms
    much_later = NOW + timedelta(minutes=30)  # all silent for 10 min; d and e ended over 30 min ago
    ended = wall_rooms(seeded, Scope.everything(), RULES, much_later)
    assert {(r.stream_id, r.state, r.end_reason) for r in ended} == {
        ("wall-a", "ended", "silence"), ("wall-b", "ended", "silence"), ("wall-c", "ended", "silence"),
    }  # fmt: skip
    assert wall_rooms(seeded, Scope.everything(), RULES, NOW + timedelta(hours=2)) == []
    review = Review("r-1", "wall-a-1", "cert", "dismiss", NOW, "引用竞品宣传")
    seeded.insert("reviews", [review_row(review, mcn_id=STARLIGHT)])
    a = wall_rooms(seeded, Scope.everything(), RULES, NOW)[0]
    assert a.stream_id == "wall-a"
    assert dict(a.counts)["high"] == 1
    assert a.last_hit is not None
    assert a.last_hit.event_id == "wall-a-2"


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[tuple[str, Store]]:
    seed_wall(store, datetime.now(UTC).replace(microsecond=0))
    add_user(store, "cert", PASSWORD, "certifier")
    add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id=STARLIGHT)
    with running_console(store_settings, store) as url:
        yield url, store


def wall_events(client: httpx.Client, lang: str = "zh") -> list[dict[str, Any]]:
    body = client.get(f"/live/events/wall?max_s=0.5&lang={lang}").text
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


@pytest.mark.slow
def test_the_live_page_and_its_stream_show_the_readers_rooms(console: tuple[str, Store]) -> None:
    url, _ = console
    officer, cert = log_in(url, "officer"), log_in(url, "cert")
    with closing(officer), closing(cert):
        page = officer.get("/live").text
        assert page.count('data-stream="wall-') == 4
        assert 'data-stream="wall-c"' not in page
        assert "音频中断" in page
        assert "已结束（长时间无声音）" in page
        assert PRODUCT in page
        (first,) = wall_events(officer)  # the wall at once; unchanged since: not sent again
        assert [r["stream_id"] for r in first["rooms"]] == ["wall-a", "wall-b", "wall-d", "wall-e"]
        a = first["rooms"][0]
        assert a["counts"] == {"high": 2, "medium": 1, "low": 0}
        assert a["last_hit"]["text"] == "这款精华能治疗痘痘"
        assert a["last_hit"]["severity_text"] == "高"
        assert a["state_text"] == "直播中"
        assert a["last_audio_text"].endswith("秒前")
        english = wall_events(officer, "en")[0]["rooms"]
        assert [r["state_text"] for r in english] == [
            "Live",
            "Stalled: no audio",
            "Ended",
            "Ended: silent too long",
        ]
        everything = wall_events(cert)[0]["rooms"]
        assert [r["stream_id"] for r in everything] == ["wall-a", "wall-c", "wall-b", "wall-d", "wall-e"]
        assert 'data-stream="wall-c"' in cert.get("/live").text
