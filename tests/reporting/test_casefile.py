"""load_cases (an evidence bundle's cases in six queries) gives each id the case it gets alone, on
both stores (chdb and clickhouse-server 18.16), for every scope: a violation's transcript, listing
card and ledger row are its own, not a neighbour's in the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.records import Review
from pipeline.reporting import casefile
from pipeline.reporting.casefile import load_case, load_cases
from pipeline.reporting.scope import Scope
from pipeline.warehouse import Store
from pipeline.warehouse.rows import review_row
from tests import scenario

pytestmark = pytest.mark.integration
IDS = [v.event_id for v in scenario.starlight_violations() + scenario.rival_violations()]
SCOPES = {
    "everything": Scope.everything(),
    "starlight": Scope.only(scenario.STARLIGHT.mcn_id),
    "rival": Scope.only(scenario.RIVAL.mcn_id),
}


class Counting:
    """The store, counting the queries made through it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queries = 0

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        self.queries += 1
        return self.store.query(sql, params)


@pytest.fixture
def seeded(store: Store) -> Store:
    scenario.seed(store)
    first = scenario.starlight_violations()[0]
    now = datetime(2026, 11, 21, 9, tzinfo=UTC)
    store.insert(
        "reviews",
        [
            review_row(Review("r1", first.event_id, "cert", "dismiss", now, "quoted"), mcn_id=first.mcn_id),
            review_row(
                Review("r2", first.event_id, "cert2", "confirm", now + timedelta(hours=1), "re-read"),
                mcn_id=first.mcn_id,
            ),
        ],
    )
    return store


@pytest.mark.parametrize("scope_name", SCOPES)
@pytest.mark.parametrize("context_s", [0.0, 10.0, 30.0])
def test_a_batch_gives_each_id_the_case_it_gets_alone(
    seeded: Store, scope_name: str, context_s: float
) -> None:
    scope = SCOPES[scope_name]
    wanted = [*IDS, "no-such-violation"]
    batch = load_cases(seeded, scope, wanted, context_s=context_s)
    one_by_one = {i: load_case(seeded, scope, i, context_s=context_s) for i in wanted}
    assert batch == {i: c for i, c in one_by_one.items() if c is not None}
    assert batch, "the scenario has violations in every scope"
    some = next(iter(batch.values()))
    assert some.transcript or context_s == 0.0
    if scope_name != "rival":  # the scenario's starlight cases carry a listing card and a ledger row
        assert any(c.listing for c in batch.values())
        assert any(c.ledger for c in batch.values())


def test_load_cases_keeps_the_reviewers_name_from_an_officer(seeded: Store) -> None:
    first = scenario.starlight_violations()[0].event_id
    everything = load_cases(seeded, SCOPES["everything"], [first])[first]
    officer = load_cases(seeded, SCOPES["starlight"], [first])[first]
    assert [r["reviewer"] for r in everything.reviews] == ["cert", "cert2"]
    assert [r["reviewer"] for r in officer.reviews] == ["certifier", "certifier"]
    assert officer.decision == "confirm"


def test_load_cases_is_six_queries_a_batch(seeded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(seeded)
    everything = SCOPES["everything"]
    expected = load_cases(seeded, everything, IDS)
    assert load_cases(counting, everything, IDS) == expected  # type: ignore[arg-type]
    assert counting.queries == 6
    monkeypatch.setattr(casefile, "BATCH", 3)
    counting.queries = 0
    assert load_cases(counting, everything, IDS) == expected  # type: ignore[arg-type]
    assert counting.queries == 6 * -(-len(IDS) // 3)
    assert load_cases(seeded, everything, []) == {}
    assert load_cases(seeded, SCOPES["rival"], [scenario.starlight_violations()[0].event_id]) == {}
