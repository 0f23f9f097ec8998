"""The violation page's evidence detail: the player at the claim, the transcript lines to seek,
what a speech term was heard as and read as (stored, shown, in the bundle), the bundle report's
times in the console's zone, and a Chinese text for every legal basis."""

from __future__ import annotations

import io
import json
import shutil
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.checks.monitor import speech_violation
from pipeline.claims.detector import load_detector
from pipeline.claims.lexicon import load_lexicon
from pipeline.claims.normalize import Normaliser
from pipeline.config import LEXICON_DIR, Settings
from pipeline.console.player import MAX_SIDE_S, heard_and_read, player_bounds, player_of
from pipeline.console.users import add_user
from pipeline.errors import LexiconError
from pipeline.ledger.qualifications import load_rules
from pipeline.legal_basis import has_chinese, in_language
from pipeline.records import StreamInfo, TranscriptSegment, Violation, stable_id
from pipeline.reporting.casefile import Case, load_case
from pipeline.reporting.evidence import Subject, build_bundle
from pipeline.reporting.evidence_report import render_report
from pipeline.reporting.scope import Scope
from pipeline.reporting.signing import load_or_create_key
from pipeline.warehouse import Store
from pipeline.warehouse.rows import stream_row, transcript_row, violation_row
from tests import scenario
from tests.console_support import log_in, running_console

HEARD_STREAM = StreamInfo("demo-heard", "anchor-xiaomei", "mcn-starlight", scenario.STARLIGHT.started_at)
HEARD_AT = 6  # the sample's segment of 美白祛斑, transcribed here as the recogniser may hear it
HEARD_TEXT = "用了以后皮肤还能每白祛斑，脸上的斑都淡了。"


def heard_segments() -> list[TranscriptSegment]:
    """The sample's transcript on a second stream (the same audio), 美白 heard as 每白 in one line."""
    segments = []
    for i, s in enumerate(scenario.TIMELINE["segments"]):
        text = HEARD_TEXT if i == HEARD_AT else s["text"]
        segments.append(TranscriptSegment(stable_id(HEARD_STREAM.stream_id, i), HEARD_STREAM.stream_id,
                                          s["start"], s["end"], text))  # fmt: skip
    return segments


def heard_violation() -> Violation:
    """The violation the monitor makes of that line: found by the real detector through a homophone."""
    segment = heard_segments()[HEARD_AT]
    claims = [c for c in load_detector().detect(segment.text) if c.category == "efficacy"]
    assert claims, "the detector no longer reads 每白 as 美白"
    return speech_violation(HEARD_STREAM, segment, claims, None)


def seed_heard(store: Store) -> Violation:
    store.insert("streams", [stream_row(replace(HEARD_STREAM, audio_path=str(scenario.AUDIO)))])
    store.insert("transcripts", [transcript_row(s, HEARD_STREAM) for s in heard_segments()])
    found = heard_violation()
    store.insert("violations", [violation_row(found)])
    return found


# ---------------------------------------------------------------------------------------------
# What is stored


def test_a_homophone_claim_keeps_what_was_heard_and_what_it_was_read_as() -> None:
    v = heard_violation()
    assert (v.term, v.read_as) == ("每白", "美白")
    assert violation_row(v)["read_as"] == "美白"
    plain = "皮肤还能美白祛斑"
    claims = [c for c in load_detector().detect(plain) if c.category == "efficacy"]
    said = speech_violation(HEARD_STREAM, replace(heard_segments()[HEARD_AT], text=plain), claims, None)
    assert said.read_as == ""  # said as written: nothing was read into it


def test_a_glitch_inside_the_term_is_read_past_and_says_so() -> None:
    (claim,) = [c for c in load_detector().detect("用了以后皮肤还能美呃白") if c.category == "efficacy"]
    assert (claim.term, claim.extra.get("read_as")) == ("美呃白", "美白")


@pytest.mark.integration
def test_the_store_returns_what_was_heard_and_read_as(store: Store) -> None:
    scenario.seed(store)
    found = seed_heard(store)
    case = load_case(store, Scope.everything(), found.event_id)
    assert case is not None
    assert (case.violation["term"], case.violation["read_as"]) == ("每白", "美白")
    plain = next(v for v in scenario.starlight_violations() if v.category == "price")
    other = load_case(store, Scope.everything(), plain.event_id)
    assert other is not None
    assert other.violation["read_as"] == ""  # rows written without it (and as said) keep ''


# ---------------------------------------------------------------------------------------------
# The player's logic


def _case(offset_s: float, end_s: float, lines: list[tuple[float, float, str]], term: str = "最低价") -> Case:
    violation = {"event_id": "e1", "offset_s": offset_s, "end_offset_s": end_s, "term": term, "read_as": ""}
    transcript = [{"offset_s": a, "end_offset_s": b, "text": t} for a, b, t in lines]
    return Case(violation=violation, stream=None, transcript=transcript, listing=None, ledger=None)


def test_the_clip_spans_the_transcript_shown_and_starts_at_the_claim() -> None:
    case = _case(30.0, 33.0, [(10.0, 14.0, "开场"), (30.0, 33.0, "这是全网最低价哦"), (50.0, 55.0, "下一款")])
    player = player_of(case, padding_s=2.0)
    assert (player.start_s, player.end_s) == (10.0, 55.0)
    assert (player.hit_s, player.hit_end_s) == (20.0, 23.0)
    assert player.percent(player.hit_s) == pytest.approx(100 * 20 / 45, abs=0.01)
    first, hit, last = player.lines
    assert (first.at_s, hit.at_s, last.at_s) == (0.0, 20.0, 40.0)
    assert (hit.hit, first.hit, last.hit) == (True, False, False)
    assert (hit.before, hit.term, hit.after) == ("这是全网", "最低价", "哦")
    assert first.term == ""  # only the claim's line is marked


def test_the_clip_is_padded_without_a_transcript_and_capped_with_a_long_one() -> None:
    assert player_bounds(_case(1.0, 3.0, []).violation, [], 2.0) == (0.0, 5.0)
    far = _case(1000.0, 1003.0, [(0.0, 5.0, "很早"), (1000.0, 1003.0, "最低价"), (5000.0, 5005.0, "很晚")])
    start, end = player_bounds(far.violation, far.transcript, 2.0)
    assert (start, end) == (1000.0 - MAX_SIDE_S, 1003.0 + MAX_SIDE_S)
    lines = player_of(far, 2.0).lines
    assert lines[0].at_s is None  # outside the clip: not a line to seek to
    assert lines[1].at_s == MAX_SIDE_S
    with pytest.raises(ValueError, match="ends"):
        player_bounds({"event_id": "bad", "offset_s": 5.0, "end_offset_s": 4.0}, [], 1.0)


def test_the_line_marks_what_was_read_when_the_transcript_holds_that() -> None:
    case = _case(30.0, 33.0, [(30.0, 33.0, "皮肤还能美白祛斑")], term="每白")
    case.violation["read_as"] = "美白"
    (line,) = player_of(case, 2.0).lines
    assert line.term == "美白"
    assert heard_and_read(case.violation) == ("每白", "美白")
    assert heard_and_read({"term": "美白", "read_as": ""}) is None


# ---------------------------------------------------------------------------------------------
# The page and the bundle


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[tuple[str, Violation]]:
    scenario.seed(store)
    found = seed_heard(store)
    add_user(store, "cert", "correct horse battery", "certifier")
    with running_console(store_settings, store) as url:
        yield url, found


@pytest.mark.integration
@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_the_page_says_heard_and_read_as_and_places_the_player(console: tuple[str, Violation]) -> None:
    url, found = console
    client = log_in(url, "cert")
    try:
        zh = client.get(f"/violations/{found.event_id}", params={"lang": "zh"}).text
        assert '听到 <mark>每白</mark> · 识别为 <mark class="read-as">美白</mark>' in zh
        en = client.get(f"/violations/{found.event_id}", params={"lang": "en"}).text
        assert 'heard <mark>每白</mark>, read as <mark class="read-as">美白</mark>' in en
        assert 'src="/static/player.js"' in en
        segment = heard_segments()[HEARD_AT]
        context = 30.0  # evidence_context_s: the lines shown are those within it of the claim
        low, high = found.offset_s - context, found.end_offset_s + context
        shown = [s for s in heard_segments() if s.end_offset_s >= low and s.offset_s <= high]
        start = shown[0].offset_s
        assert f'data-hit-s="{round(found.offset_s - start, 3)}"' in en
        assert f'data-at-s="{round(segment.offset_s - start, 3)}"' in en
        assert "还能<mark>每白</mark>祛斑" in en  # the claim marked inside its line
        clip = client.get(f"/violations/{found.event_id}/clip.wav")
        assert clip.status_code == 200
        assert clip.headers["accept-ranges"] == "bytes"
        part = client.get(f"/violations/{found.event_id}/clip.wav", headers={"range": "bytes=100-199"})
        assert (part.status_code, part.content) == (206, clip.content[100:200])
        assert part.headers["content-range"] == f"bytes 100-199/{len(clip.content)}"
        # the clip holds the transcript shown (here 0-66 s of the sample), not only the sentence
        seconds = wav_seconds(clip.content)
        assert seconds == pytest.approx(shown[-1].end_offset_s - start, abs=0.2)
        assert seconds > 3 * (found.end_offset_s - found.offset_s)
        script = client.get("/static/player.js")
        assert script.status_code == 200
        assert "currentTime" in script.text
    finally:
        client.close()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


@pytest.mark.integration
@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_the_bundle_holds_what_was_heard_and_read_as(store: Store, tmp_path: Path) -> None:
    scenario.seed(store)
    found = seed_heard(store)
    case = load_case(store, Scope.everything(), found.event_id)
    assert case is not None
    data = build_bundle(
        [case], load_or_create_key(tmp_path / "k.pem"), subject=Subject(violation_id=found.event_id),
        created_by="test", context_s=30.0, timezone="Asia/Shanghai",
    ).data  # fmt: skip
    zf = zipfile.ZipFile(io.BytesIO(data))
    record = json.loads(zf.read(f"violations/{found.event_id}.json"))
    assert (record["violation"]["term"], record["violation"]["read_as"]) == ("每白", "美白")
    report = zf.read("report.html").decode()
    assert "听到 每白 · 识别为 美白 / heard 每白, read as 美白" in report


def test_the_report_states_each_time_in_the_zone_with_its_offset() -> None:
    """Berlin keeps summer time: a July violation is UTC+02:00, a bundle made in January +01:00."""
    summer = datetime(2026, 7, 3, 18, 30, 5, tzinfo=UTC)
    reviewed = datetime(2026, 7, 4, 9, 0, 0, tzinfo=UTC)
    violation = {
        "event_id": "e1", "category": "price", "severity": "high", "kind": "claim", "source": "speech",
        "mcn_id": "m", "anchor_id": "a", "stream_id": "s", "offset_s": 1.0, "end_offset_s": 2.0,
        "ts": summer, "text": "全网最低价", "term": "全网最低价", "read_as": "", "legal_basis": "",
        "rewrite": None,
    }  # fmt: skip
    review = {"reviewed_at": reviewed, "reviewer": "cert", "decision": "confirm", "reason": "r"}
    case = Case(violation=violation, stream=None, transcript=[], listing=None, ledger=None, reviews=[review])
    meta = {
        "subject": "violation e1",
        "created_at": "2027-01-15T10:00:00+00:00",
        "created_by": "t",
        "key_id": "k",
    }
    report = render_report([case], [], {"e1": ""}, meta, timezone="Europe/Berlin").decode()
    assert "2026-07-03 20:30:05 (UTC+02:00)" in report  # 18:30 UTC on a summer day
    assert "2026-07-04 11:00:00 (UTC+02:00)" in report
    assert "2027-01-15 11:00:00 (UTC+01:00)" in report  # made in winter
    assert "Europe/Berlin（生成时 / when created: UTC+01:00）" in report
    assert "18:30:05" not in report  # no time left in UTC


# ---------------------------------------------------------------------------------------------
# Legal bases


def test_every_legal_basis_of_the_lexicons_has_a_chinese_text() -> None:
    lexicon = load_lexicon(LEXICON_DIR, Normaliser().text)
    rules = load_rules(LEXICON_DIR)
    bases = {
        **{e.rule_id: e.legal_basis for e in lexicon.entries},
        **{f"qualification {t.name}": t.legal_basis for t in rules.types.values()},
        **{f"check {c.name}": c.legal_basis for c in rules.checks.values()},
    }
    assert len(bases) > 100
    missing = [rule for rule, text in bases.items() if not has_chinese(text)]
    assert missing == []
    for rule, text in bases.items():  # each language sees only its own parts
        zh, en = in_language(text, "zh"), in_language(text, "en")
        assert "《" in zh, rule
        assert not any(p in en for p in ("《", "第")) or en == text, rule
    cosmetics = rules.types["cosmetics_filing"].legal_basis
    assert (
        in_language(cosmetics, "zh") == "《化妆品监督管理条例》第十七条（普通化妆品上市销售或者进口前备案）"
    )
    assert in_language(cosmetics, "en").startswith(
        "Cosmetics Supervision and Administration Regulation art. 17"
    )


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "lexicons"
    shutil.copytree(LEXICON_DIR, copy)
    return copy


def test_the_loaders_refuse_a_legal_basis_only_in_english(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    price = copy / "price.yaml"
    text = price.read_text(encoding="utf-8")
    price.write_text(
        text.replace("《价格法》第十四条；《明码标价和禁止价格欺诈规定》第十九条; ", "", 1), encoding="utf-8"
    )
    with pytest.raises(LexiconError, match="must cite the law in Chinese"):
        load_lexicon(copy, Normaliser().text)
    rules = copy / "qualifications.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(
        text.replace("《食品安全法》第三十五条（从事食品生产应当依法取得许可）; ", "", 1), encoding="utf-8"
    )
    with pytest.raises(
        LexiconError, match=r"qualification_types\.food_production_license: legal_basis must cite"
    ):
        load_rules(copy)


def test_pages_show_the_legal_basis_in_their_language() -> None:
    from pipeline.console.labels import legal_basis_text

    text = load_rules(LEXICON_DIR).types["cosmetics_filing"].legal_basis
    assert legal_basis_text(text, "zh").startswith("《化妆品监督管理条例》")
    assert "Cosmetics" not in legal_basis_text(text, "zh")
    assert legal_basis_text(text, "en").startswith("Cosmetics Supervision")


def test_clip_ranges_are_read_as_the_rfc_says() -> None:
    from pipeline.console.ranges import byte_range

    assert byte_range(None, 100) is None
    assert byte_range("bytes=0-", 100) == (0, 99)
    assert byte_range("bytes=10-19", 100) == (10, 19)
    assert byte_range("bytes=90-500", 100) == (90, 99)
    assert byte_range("bytes=-10", 100) == (90, 99)
    assert byte_range("items=0-1", 100) is None  # not bytes: the whole body
    for bad in ("bytes=100-", "bytes=20-10", "bytes=-0"):
        with pytest.raises(ValueError, match="range"):
            byte_range(bad, 100)
