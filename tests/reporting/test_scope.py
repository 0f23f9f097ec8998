"""Reading scopes and periods (pipeline.reporting.scope): the MCN filter every query carries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.reporting.scope import Period, Scope, ScopeError, scoped_query, scoped_sql
from pipeline.warehouse import Store
from tests import scenario

pytestmark = pytest.mark.integration


def test_a_scope_allows_and_narrows() -> None:
    assert Scope.everything().allows("any")
    officer = Scope.only("mcn-a")
    assert officer.allows("mcn-a")
    assert not officer.allows("mcn-b")
    assert officer.narrow("mcn-a") == officer
    assert officer.narrow("mcn-b") == Scope(frozenset())  # outside the scope: nothing, not an error
    assert officer.narrow(None) == officer
    assert Scope.everything().narrow("mcn-b") == Scope.only("mcn-b")


def test_sql_without_its_scope_is_refused() -> None:
    with pytest.raises(ScopeError, match=r"no \{scope\} filter"):
        scoped_sql("SELECT * FROM violations", Scope.everything())
    assert scoped_sql("SELECT 1 WHERE {scope}", Scope(frozenset())) == "SELECT 1 WHERE (0 = 1)"


def test_queries_see_only_their_mcns(store: Store) -> None:
    scenario.seed(store)
    sql = "SELECT DISTINCT mcn_id FROM violations FINAL WHERE {scope} ORDER BY mcn_id"
    everyone = [r["mcn_id"] for r in scoped_query(store, sql, Scope.everything())]
    assert len(everyone) >= 2
    for mcn in everyone:
        assert [r["mcn_id"] for r in scoped_query(store, sql, Scope.only(mcn))] == [mcn]
    assert scoped_query(store, sql, Scope(frozenset())) == []
    assert scoped_query(store, sql, Scope(frozenset(everyone))) == [{"mcn_id": m} for m in everyone]


def test_a_period_is_a_local_month_as_a_utc_interval() -> None:
    november = Period.parse("2026-11", "Asia/Shanghai")
    assert november.start == datetime(2026, 10, 31, 16, tzinfo=UTC)  # local midnight, in UTC
    assert november.end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert november.last_day.day == 30
    assert Period.containing(datetime(2026, 11, 30, 17, tzinfo=UTC), "Asia/Shanghai").label == "2026-12"
    assert [p.label for p in Period.parse("2026-02", "UTC").recent(3)] == ["2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("text", ["2026-13", "26-11", "2026/11", "1969-12", "november"])
def test_malformed_periods_and_zones_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        Period.parse(text, "Asia/Shanghai")
    with pytest.raises(ScopeError, match="time zone"):
        Period.parse("2026-11", "Mars/Olympus")
