"""The review lifecycle on both stores: transitions written once, scores and outcome counts by the
final state (confirmed, appealed, rectified and upheld count; dismissed and overturned do not),
and the history with its attachment in a case and an evidence bundle's report."""

from __future__ import annotations

import threading

import pytest

from pipeline.reporting.casefile import find_violations, load_case
from pipeline.reporting.evidence import case_files
from pipeline.reporting.evidence_report import render_report
from pipeline.reporting.lifecycle import TransitionRefused
from pipeline.reporting.panels import BY_ID, run_panel
from pipeline.reporting.reviews import Attached, current_state, transition
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.scoring import compute_scores
from pipeline.reporting.scoring_rules import load_rules
from pipeline.warehouse import Store
from tests import scenario
from tests.paths import ROOT

pytestmark = pytest.mark.integration
RULES = load_rules(ROOT / "lexicons" / "scoring.yaml")
NOVEMBER = Period.parse(scenario.PERIOD, "Asia/Shanghai")
ALL = Scope.everything()
STARLIGHT = Scope.only("mcn-starlight")
PRICE = next(v for v in scenario.starlight_violations() if v.category == "price")
WITH = 48.8  # anchor-xiaomei's November score with the price claim counted (test_scoring)
WITHOUT = 56.3  # and without it
LETTER = Attached("ab" * 32, "申诉函.pdf", "application/pdf", 1234)


@pytest.fixture
def seeded(store: Store) -> Store:
    scenario.seed(store)
    return store


def xiaomei(store: Store) -> float:
    scores = compute_scores(store, RULES, "anchor", NOVEMBER, ALL)
    return next(s.score for s in scores if s.subject == "anchor-xiaomei")


def step(store: Store, action: str, role: str, attachment: Attached | None = None) -> object:
    actor, scope = ("cert", ALL) if role == "certifier" else ("officer", STARLIGHT)
    return transition(
        store,
        scope,
        violation_id=PRICE.event_id,
        mcn_id=PRICE.mcn_id,
        actor=actor,
        role=role,
        action=action,  # type: ignore[arg-type]
        note=f"{action} note",
        attachment=attachment,
    )


def counted(store: Store, category: str = PRICE.category) -> int:
    rows = run_panel(store, BY_ID["violations_by_category"], RULES, ALL, NOVEMBER)
    return sum(r["violations"] for r in rows if r["category"] == category)


def review_rows(store: Store) -> list[str]:
    rows = store.query(
        "SELECT decision FROM reviews FINAL WHERE violation_id = %(v)s ORDER BY reviewed_at, review_id",
        {"v": PRICE.event_id},
    )
    return [r["decision"] for r in rows]


def test_an_appealed_and_overturned_violation_drops_out_of_the_score(seeded: Store) -> None:
    assert xiaomei(seeded) == WITH
    step(seeded, "confirm", "certifier")
    assert xiaomei(seeded) == WITH
    step(seeded, "appeal", "mcn_officer", LETTER)
    assert current_state(seeded, STARLIGHT, PRICE.event_id) == "appealed"
    assert xiaomei(seeded) == WITH  # counts until the appeal is decided
    step(seeded, "overturn", "certifier")
    assert xiaomei(seeded) == WITHOUT
    assert step(seeded, "overturn", "certifier") is None  # the same step again: no second row
    assert review_rows(seeded) == ["confirm", "appeal", "overturn"]
    with pytest.raises(TransitionRefused) as refused:
        step(seeded, "uphold", "certifier")
    assert refused.value.kind == "state"
    assert xiaomei(seeded) == WITHOUT


def test_an_upheld_or_rectified_violation_stays_in_the_score(seeded: Store) -> None:
    step(seeded, "confirm", "certifier")
    step(seeded, "appeal", "mcn_officer", LETTER)
    step(seeded, "uphold", "certifier")
    assert current_state(seeded, ALL, PRICE.event_id) == "upheld"
    assert xiaomei(seeded) == WITH
    other = next(v for v in scenario.starlight_violations() if v.event_id != PRICE.event_id)
    for action, role in (("confirm", "certifier"), ("rectify", "mcn_officer")):
        transition(
            seeded,
            ALL,
            violation_id=other.event_id,
            mcn_id=other.mcn_id,
            actor="x",
            role=role,
            action=action,  # type: ignore[arg-type]
            note="fixed the script",
        )
    assert current_state(seeded, ALL, other.event_id) == "rectified"
    assert xiaomei(seeded) == WITH


def test_dismissed_counts_nowhere_and_a_correction_brings_it_back(seeded: Store) -> None:
    prices = counted(seeded)
    step(seeded, "dismiss", "certifier")
    assert step(seeded, "dismiss", "certifier") is None  # "dismissed twice" is one dismissal
    assert xiaomei(seeded) == WITHOUT
    by_state = {
        r["state"]: r["violations"] for r in run_panel(seeded, BY_ID["review_outcomes"], RULES, ALL, NOVEMBER)
    }
    assert by_state["dismissed"] == 1
    assert by_state["pending"] == len(scenario.starlight_violations()) + len(scenario.rival_violations()) - 1
    assert counted(seeded) == prices - 1
    step(seeded, "confirm", "certifier")
    assert xiaomei(seeded) == WITH
    assert review_rows(seeded) == ["dismiss", "confirm"]


def test_outcome_counts_follow_the_final_state(seeded: Store) -> None:
    prices = counted(seeded)
    step(seeded, "confirm", "certifier")
    step(seeded, "appeal", "mcn_officer", LETTER)
    outcomes = run_panel(seeded, BY_ID["review_outcomes"], RULES, STARLIGHT, NOVEMBER)
    assert {r["state"]: r["violations"] for r in outcomes}["appealed"] == 1
    step(seeded, "overturn", "certifier")
    outcomes = run_panel(seeded, BY_ID["review_outcomes"], RULES, STARLIGHT, NOVEMBER)
    states = {r["state"]: r["violations"] for r in outcomes}
    assert states["overturned"] == 1
    assert "appealed" not in states
    assert counted(seeded) == prices - 1  # overturned: not counted either
    listed = {r["event_id"]: r for r in find_violations(seeded, STARLIGHT, period=NOVEMBER)}
    assert listed[PRICE.event_id]["state"] == "overturned"


def test_identical_steps_at_once_write_one_row(seeded: Store) -> None:
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(step(seeded, "dismiss", "certifier")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert review_rows(seeded) == ["dismiss"]
    assert sum(r is not None for r in results) == 1


def test_the_case_and_the_bundle_carry_the_history_and_the_final_state(seeded: Store) -> None:
    step(seeded, "confirm", "certifier")
    step(seeded, "appeal", "mcn_officer", LETTER)
    step(seeded, "overturn", "certifier")
    case = load_case(seeded, STARLIGHT, PRICE.event_id)
    assert case is not None
    assert case.state == "overturned"
    history = [(r["state"], r["role"], r["reviewer"]) for r in case.reviews]
    # an officer reads certifiers by their role, their own MCN's officer by name
    assert history == [
        ("confirmed", "certifier", "certifier"),
        ("appealed", "mcn_officer", "officer"),
        ("overturned", "certifier", "certifier"),
    ]
    appeal = case.reviews[1]
    assert (appeal["attachment_sha256"], appeal["attachment_name"]) == (LETTER.sha256, LETTER.name)
    assert (appeal["attachment_type"], appeal["attachment_bytes"]) == ("application/pdf", 1234)
    files = case_files(case, 30.0)
    record = files[f"violations/{PRICE.event_id}.json"].decode()
    assert '"state": "overturned"' in record
    assert LETTER.sha256 in record
    html = render_report(
        [case], [], {}, {"subject": "x", "created_at": None}, timezone="Asia/Shanghai"
    ).decode()
    assert "申诉成立，撤销违规 / Overturned" in html
    assert "申诉中 / Appealed" in html
    assert LETTER.sha256 in html
    assert "申诉函.pdf" in html
