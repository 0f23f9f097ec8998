"""The panel queries: one definition per chart or table, shared by the console and Grafana.

Each panel's SQL uses the warehouse placeholders ``%(start)s`` / ``%(end)s`` (the period),
``%(tz)s`` (the display time zone) and the ``{scope}`` token (the reader's MCNs). The console runs
it through :func:`run_panel` with the reader's scope; :mod:`pipeline.reporting.grafana` turns the same text
into Grafana SQL (``$__fromTime`` / ``$__toTime``, an ``mcn`` variable), so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.reporting.categories import Language
from pipeline.reporting.lifecycle import RESULT
from pipeline.reporting.scope import Period, Scope, scoped_query
from pipeline.reporting.scoring import DISMISSED_SQL, items_sql, scores_sql
from pipeline.reporting.scoring_rules import ScoringRules
from pipeline.warehouse import Store

PanelKind = Literal["table", "timeseries", "barchart", "piechart"]

_PERIOD = "ts >= %(start)s AND ts < %(end)s"
_COUNTED = f"{_PERIOD} AND {{scope}} AND event_id GLOBAL NOT IN ({DISMISSED_SQL})"


@dataclass(frozen=True, slots=True)
class Panel:
    """A chart or table: its id, titles, kind and SQL (built from the scoring rules)."""

    id: str
    titles: dict[Language, str]
    kind: PanelKind
    build: Callable[[ScoringRules], str]

    def title(self, language: Language = "zh") -> str:
        return self.titles[language]

    def sql(self, rules: ScoringRules) -> str:
        return self.build(rules)


def _violations_by_category(_: ScoringRules) -> str:
    return (
        "SELECT category, severity, count() AS violations FROM violations FINAL "
        f"WHERE {_COUNTED} GROUP BY category, severity ORDER BY violations DESC, category, severity"
    )


def _violations_per_day(_: ScoringRules) -> str:
    return (
        "SELECT toStartOfDay(ts, %(tz)s) AS time, countIf(kind = 'claim') AS claims, "
        "countIf(kind = 'qualification') AS qualifications, countIf(kind = 'ledger') AS ledger "
        f"FROM violations FINAL WHERE {_COUNTED} GROUP BY time ORDER BY time"
    )


def _review_outcomes(_: ScoringRules) -> str:
    latest = (
        "SELECT violation_id, argMax(decision, (reviewed_at, review_id)) AS decision FROM reviews FINAL "
        "WHERE {scope} GROUP BY violation_id"
    )
    # each violation by its final state in the review lifecycle (no review row: pending)
    actions = ", ".join(f"'{a}'" for a in RESULT)
    states = ", ".join(f"'{s}'" for s in RESULT.values())
    return (
        f"SELECT transform(decision, [{actions}], [{states}], 'pending') AS state, "
        "count() AS violations FROM ("
        f"SELECT event_id AS violation_id FROM violations FINAL WHERE {_PERIOD} AND {{scope}}"
        f") AS v ANY LEFT JOIN ({latest}) AS r USING (violation_id) "
        "GROUP BY state ORDER BY state"
    )


def _latest_violations(_: ScoringRules) -> str:
    return (
        "SELECT ts AS time, mcn_id, anchor_id, stream_id, kind, category, severity, term, text, event_id "
        f"FROM violations FINAL WHERE {_PERIOD} AND {{scope}} ORDER BY ts DESC, event_id LIMIT 50"
    )


def _ledger_hygiene(rules: ScoringRules) -> str:
    return (
        "SELECT subject AS mcn_id, item, n AS rows_affected, basis AS rows_total, "
        f"round(value, 3) AS share, round(deduction, 2) AS deduction FROM ({items_sql(rules, 'mcn')}) "
        "WHERE grp = 'ledger' ORDER BY mcn_id, item"
    )


PANELS: tuple[Panel, ...] = (
    Panel("scores_mcn", {"zh": "机构得分", "en": "MCN scores"}, "table", lambda r: scores_sql(r, "mcn")),
    Panel(
        "scores_anchor", {"zh": "主播得分", "en": "Anchor scores"}, "table", lambda r: scores_sql(r, "anchor")
    ),
    Panel(
        "violations_per_day",
        {"zh": "每日违规", "en": "Violations per day"},
        "timeseries",
        _violations_per_day,
    ),
    Panel(
        "violations_by_category",
        {"zh": "违规类别", "en": "Violations by category"},
        "barchart",
        _violations_by_category,
    ),
    Panel("review_outcomes", {"zh": "复核结果", "en": "Review outcomes"}, "piechart", _review_outcomes),
    Panel("ledger_hygiene", {"zh": "台账规范", "en": "Ledger hygiene"}, "table", _ledger_hygiene),
    Panel("latest_violations", {"zh": "最新违规", "en": "Latest violations"}, "table", _latest_violations),
)
BY_ID = {p.id: p for p in PANELS}


def run_panel(
    store: Store, panel: Panel, rules: ScoringRules, scope: Scope, period: Period
) -> list[dict[str, Any]]:
    """The panel's rows for a reader's scope and a period."""
    return scoped_query(store, panel.sql(rules), scope, {**period.params(), "tz": period.timezone})
