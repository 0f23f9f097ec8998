"""Surveillance scores on both stores: values, explanations, dismissals, live streams, periods, scope."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.config import PROJECT_ROOT, Settings
from pipeline.errors import LexiconError
from pipeline.records import Review, StreamInfo
from pipeline.reporting.scope import Period, Scope, ScopeError
from pipeline.reporting.scoring import compute_scores, compute_trend
from pipeline.reporting.scoring_rules import ScoringRules, load_rules
from pipeline.warehouse import Store
from pipeline.warehouse.rows import review_row, stream_row, violation_row
from tests import scenario
from tests.pipeline_harness import env_of

pytestmark = pytest.mark.integration
RULES = load_rules(PROJECT_ROOT / "lexicons" / "scoring.yaml")
NOVEMBER = Period.parse(scenario.PERIOD, "Asia/Shanghai")


@pytest.fixture
def seeded(store: Store) -> Store:
    scenario.seed(store)
    return store


EVERYTHING = Scope.everything()


def by_subject(store: Store, level: str, scope: Scope = EVERYTHING) -> dict[str, float]:
    return {s.subject: s.score for s in compute_scores(store, RULES, level, NOVEMBER, scope)}  # type: ignore[arg-type]


def test_scores_of_the_scenario(seeded: Store) -> None:
    # anchor-xiaomei: 2 h; conduct 46.25 (weighted 9.25/h x 5); 1 of 4 listings off the ledger (5.0).
    assert by_subject(seeded, "anchor") == {"anchor-xiaomei": 48.8, "anchor-zhao": 55.0}
    # The MCN also answers for its whole ledger: P-1005 expired, P-1005 approved without reviewer.
    assert by_subject(seeded, "mcn") == {"mcn-starlight": 45.0, "mcn-rival": 55.0}


def test_each_score_explains_itself_line_by_line(seeded: Store) -> None:
    (score,) = compute_scores(seeded, RULES, "mcn", NOVEMBER, Scope.only("mcn-starlight"))
    conduct = sum(i.deduction for i in score.items if i.group == "conduct")
    ledger = sum(i.deduction for i in score.items if i.group == "ledger")
    assert conduct == pytest.approx(score.conduct_deduction, abs=0.02)
    assert ledger == pytest.approx(score.ledger_deduction, abs=0.02)
    assert score.score == pytest.approx(100 - conduct - ledger, abs=0.06)
    items = {(i.item, i.category): i for i in score.items}
    assert items[("monitored_hours", "")].count == 2.0
    assert items[("violations", "absolute")].count == 2
    assert items[("expired_qualifications", "")].count == 1
    assert items[("unreviewed_approvals", "")].count == 1
    assert score.grade == "D"
    assert score.rules_version == RULES.version


def test_dismissed_violations_do_not_count(seeded: Store) -> None:
    price = next(v for v in scenario.starlight_violations() if v.category == "price")
    now = datetime.now(UTC)
    dismiss = Review("r1", price.event_id, "cert", "dismiss", now, "quoted a competitor, not a claim")
    seeded.insert("reviews", [review_row(dismiss, mcn_id=price.mcn_id)])
    # one high claim fewer: 100 - (46.25 - 7.5) - 5.0
    assert by_subject(seeded, "anchor")["anchor-xiaomei"] == 56.3
    confirm = Review("r2", price.event_id, "cert", "confirm", now + timedelta(seconds=1), "re-reviewed")
    seeded.insert("reviews", [review_row(confirm, mcn_id=price.mcn_id)])
    assert by_subject(seeded, "anchor")["anchor-xiaomei"] == 48.8


def test_live_stream_counts_up_to_now_and_is_provisional(seeded: Store) -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    live = StreamInfo("live-1", "anchor-live", "mcn-rival", started)
    seeded.insert("streams", [stream_row(live)])
    period = Period.containing(started, "Asia/Shanghai")
    (score,) = compute_scores(seeded, RULES, "anchor", period, Scope.everything(), subject="anchor-live")
    assert score.provisional
    assert score.monitored_hours == pytest.approx(
        min(3.0, (datetime.now(UTC) - period.start).total_seconds() / 3600), abs=0.05
    )


def test_a_stream_never_ended_counts_at_most_max_live_hours(seeded: Store) -> None:
    lost = StreamInfo("lost-1", "anchor-lost", "mcn-rival", datetime(2026, 11, 3, 4, tzinfo=UTC))
    seeded.insert("streams", [stream_row(lost)])
    (score,) = compute_scores(seeded, RULES, "anchor", NOVEMBER, Scope.everything(), subject="anchor-lost")
    assert score.monitored_hours == RULES.max_live_hours
    assert not score.provisional


def test_periods_are_months_in_the_configured_zone(seeded: Store) -> None:
    # 2026-11-30 17:30 UTC is 2026-12-01 01:30 in Shanghai: December's.
    late = scenario.rival_violations()[0]
    moved = type(late)(**{**{f: getattr(late, f) for f in late.__dataclass_fields__}, "event_id": "late-1",
                          "ts": datetime(2026, 11, 30, 17, 30, tzinfo=UTC)})  # fmt: skip
    seeded.insert("violations", [violation_row(moved)])
    november = next(
        s
        for s in compute_scores(seeded, RULES, "anchor", NOVEMBER, Scope.everything())
        if s.subject == "anchor-zhao"
    )
    assert november.violations == 3
    december = compute_scores(
        seeded, RULES, "anchor", NOVEMBER.next(), Scope.everything(), subject="anchor-zhao"
    )
    assert [s.violations for s in december] == [1]


def test_an_officer_scope_sees_only_its_mcn(seeded: Store) -> None:
    assert set(by_subject(seeded, "anchor", Scope.only("mcn-starlight"))) == {"anchor-xiaomei"}
    assert by_subject(seeded, "mcn", Scope.only("mcn-starlight").narrow("mcn-rival")) == {}


def test_a_trend_is_each_months_scores_in_one_query(seeded: Store) -> None:
    # October gets a stream and a violation of its own, so two months of six hold scores.
    october = StreamInfo("oct-1", "anchor-zhao", "mcn-rival", datetime(2026, 10, 8, 12, tzinfo=UTC))
    first = scenario.rival_violations()[0]
    moved = dataclasses.replace(
        first, event_id="oct-v1", stream_id="oct-1", ts=datetime(2026, 10, 8, 12, 30, tzinfo=UTC)
    )
    seeded.insert("streams", [stream_row(october)])
    seeded.insert("violations", [violation_row(moved)])
    months = NOVEMBER.next().recent(6)
    for scope in (EVERYTHING, Scope.only("mcn-rival")):
        for level in ("anchor", "mcn"):
            expected: dict[str, list[float | None]] = {}
            for i, month in enumerate(months):
                for s in compute_scores(seeded, RULES, level, month, scope, explained=False):  # type: ignore[arg-type]
                    expected.setdefault(s.subject, [None] * len(months))[i] = s.score
            trend = compute_trend(seeded, RULES, level, months, scope)  # type: ignore[arg-type]
            assert trend == expected
            assert list(trend) == list(expected)  # the chart's series in the same order
    assert compute_trend(seeded, RULES, "anchor", months, EVERYTHING)["anchor-zhao"][3:5] != [None, None]


def test_period_must_be_a_month() -> None:
    for bad in ("2026-13", "2026-1", "26-11", "2026-11'; DROP TABLE violations; --"):
        with pytest.raises(ScopeError):
            Period.parse(bad, "Asia/Shanghai")
    assert NOVEMBER.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert NOVEMBER.end == datetime(2026, 11, 30, 16, tzinfo=UTC)


def test_rules_are_validated(tmp_path: Path) -> None:
    bad = tmp_path / "scoring.yaml"
    text = (PROJECT_ROOT / "lexicons" / "scoring.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("min_score: 0,", "min_score: 10,"), encoding="utf-8")
    with pytest.raises(LexiconError, match="last must start at 0"):
        load_rules(bad)
    bad.write_text(text.replace("high: 3.0", "high: -1"), encoding="utf-8")
    with pytest.raises(LexiconError, match="high"):
        load_rules(bad)


def test_grade_bands(tmp_path: Path) -> None:
    rules: ScoringRules = RULES
    assert [rules.band(s).grade for s in (100, 90, 89.9, 75, 60, 59.9, 0)] == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "D",
        "D",
    ]


def test_score_command(seeded: Store, store_settings: Settings) -> None:
    runner = CliRunner()
    env = {**env_of(store_settings), "CLAIMWATCH_TIMEZONE": "Asia/Shanghai"}
    out = runner.invoke(main, ["score", "--period", "2026-11", "--mcn", "mcn-starlight"], env=env)
    assert out.exit_code == 0, out.output
    assert "anchor anchor-xiaomei [mcn-starlight] 2026-11: 48.8 D" in out.output
    assert "mcn mcn-starlight [mcn-starlight] 2026-11: 45.0 D" in out.output
    assert "绝对化用语" in out.output
    assert "anchor-zhao" not in out.output
    as_json = runner.invoke(
        main, ["score", "--period", "2026-11", "--anchor", "anchor-zhao", "--json"], env=env
    )
    (line,) = as_json.output.strip().splitlines()
    assert json.loads(line)["score"] == 55.0
    bad = runner.invoke(main, ["score", "--period", "November"], env=env)
    assert bad.exit_code == 2
    assert "YYYY-MM" in bad.output
