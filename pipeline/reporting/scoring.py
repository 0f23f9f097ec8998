"""Surveillance scores per anchor and per MCN per month, computed in ClickHouse SQL.

A score is ``100 - conduct - ledger`` (each deduction capped, the result at least 0), with the
weights of ``lexicons/scoring.yaml`` written into the SQL as numbers:

- conduct: violations of kind ``claim`` and ``qualification`` in the period, weighted by severity
  and kind, per monitored hour (streams' overlap with the period; short ones count as
  ``min_monitored_hours``; a stream with no end counts up to now, at most ``max_live_hours``);
- ledger: the share of products sold off the ledger or unapproved, of approved ledger rows holding
  an expired qualification at the period's end, and of approvals without reviewer or date.

Violations whose review lifecycle ended ``dismissed`` or ``overturned`` (their latest review row
is ``dismiss`` or ``overturn``: :mod:`pipeline.reporting.lifecycle`) count nowhere. The same SQL
(one query of the lines that explain a score, one of the scores) serves the CLI, the console and
the Grafana dashboards; :func:`compute_scores` returns each score with the lines behind it.
docs/scoring.md has the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pipeline.reporting.categories import Language, label, severity_label
from pipeline.reporting.lifecycle import NOT_COUNTED_DECISIONS
from pipeline.reporting.scope import Period, Scope, scoped_query
from pipeline.reporting.scoring_rules import ScoringRules
from pipeline.warehouse import Store

Level = Literal["anchor", "mcn"]
LEVELS: tuple[Level, ...] = ("anchor", "mcn")

DISMISSED_SQL = (
    "SELECT violation_id FROM reviews FINAL WHERE {scope} GROUP BY violation_id "
    "HAVING argMax(decision, (reviewed_at, review_id)) IN ("
    + ", ".join(f"'{d}'" for d in NOT_COUNTED_DECISIONS)
    + ")"
)
"""Ids of violations whose final state counts for nothing: dismissed (a false positive) or
overturned (the MCN's appeal against the confirmation succeeded); confirmed, appealed (until decided),
rectified and upheld violations count (docs/scoring.md). Readers write
``event_id GLOBAL NOT IN (...)``: on a cluster the reviews are read once, on the node the query
came to (the node the console wrote them to), not on each shard's replica, which may lag."""

_IN_PERIOD = "ts >= %(start)s AND ts < %(end)s"
CONDUCT_SQL = "(kind IN ('claim', 'qualification') OR (kind = 'ledger' AND category = 'off_card'))"
"""The violations that count as conduct: claims, qualification checks and off-card statements."""
_VALID_TO = """'"valid_to":"([0-9]{4}-[0-9]{2}-[0-9]{2})"'"""
_COLUMNS = "subject, mcn_id, grp, item, kind, category, severity, n, basis, value, deduction"


def _num(value: float) -> str:
    return repr(float(value))


def _key(level: Level) -> str:
    return "anchor_id" if level == "anchor" else "mcn_id"


def hours_sql(rules: ScoringRules, level: Level) -> str:
    """Monitored hours per subject: each stream's overlap with the period, in hours."""
    live_s = int(rules.max_live_hours * 3600)
    end_s = (
        f"least(ifNull(toUInt32(ended_at), least(toUInt32(now()), toUInt32(started_at) + {live_s})), "
        "toUInt32(%(end)s))"
    )
    start_s = "greatest(toUInt32(started_at), toUInt32(%(start)s))"
    return (
        f"SELECT {_key(level)} AS subject, mcn_id, "
        f"toFloat64(sum(greatest(0, toInt64({end_s}) - toInt64({start_s})))) / 3600 AS hrs, "
        "toFloat64(count()) AS streams, "
        f"toFloat64(countIf(ended_at IS NULL AND toUInt32(now()) < toUInt32(started_at) + {live_s})) AS live "
        "FROM streams FINAL "
        "WHERE started_at < %(end)s AND (ended_at IS NULL OR ended_at > %(start)s) AND {scope} "
        "GROUP BY subject, mcn_id"
    )


def _monitoring_part(rules: ScoringRules, level: Level) -> str:
    return (
        "SELECT subject, mcn_id, 'monitoring' AS grp, 'monitored_hours' AS item, '' AS kind, "
        "'' AS category, '' AS severity, hrs AS n, streams AS basis, live AS value, "
        f"toFloat64(0) AS deduction FROM ({hours_sql(rules, level)})"
    )


def _weight(rules: ScoringRules) -> str:
    w, k = rules.severity_weights, rules.kind_factors
    severity = f"multiIf(severity = 'high', {_num(w['high'])}, severity = 'medium', {_num(w['medium'])}, "
    severity += f"{_num(w['low'])})"
    kind = f"multiIf(kind = 'qualification', {_num(k['qualification'])}, {_num(k['claim'])})"
    return f"{severity} * {kind} * if(off_card = 1, {_num(rules.off_card_factor)}, 1.0)"


def _conduct_part(rules: ScoringRules, level: Level) -> str:
    counts = (
        f"SELECT {_key(level)} AS subject, mcn_id, kind, category, severity, off_card, count() AS cnt "
        f"FROM violations FINAL WHERE {_IN_PERIOD} AND {CONDUCT_SQL} "
        f"AND {{scope}} AND event_id GLOBAL NOT IN ({DISMISSED_SQL}) "
        "GROUP BY subject, mcn_id, kind, category, severity, off_card"
    )
    return (
        "SELECT subject, mcn_id, 'conduct' AS grp, if(off_card = 1, 'off_card_violations', 'violations') "
        "AS item, kind, category, severity, "
        f"toFloat64(cnt) AS n, greatest(toFloat64(hrs), {_num(rules.min_monitored_hours)}) AS basis, "
        f"{_weight(rules)} * n / basis AS value, {_num(rules.points_per_weighted_hour)} * value AS deduction "
        f"FROM ({counts}) AS c ANY LEFT JOIN ({hours_sql(rules, level)}) AS h USING (subject, mcn_id)"
    )


def _sales_part(rules: ScoringRules, level: Level) -> str:
    sold = (
        f"SELECT {_key(level)} AS subject, mcn_id, toUInt64(uniqExact(stream_id, listing_id)) AS sold, "
        f"toUInt64(0) AS bad FROM listings FINAL WHERE {_IN_PERIOD} AND event IN ('on_shelf', 'explain') "
        "AND {scope} GROUP BY subject, mcn_id"
    )
    bad = (
        f"SELECT {_key(level)} AS subject, mcn_id, toUInt64(0) AS sold, "
        "toUInt64(uniqExact(stream_id, ifNull(listing_id, ''))) AS bad "
        f"FROM violations FINAL WHERE {_IN_PERIOD} AND kind = 'ledger' AND category != 'off_card' "
        "AND {scope} "
        f"AND event_id GLOBAL NOT IN ({DISMISSED_SQL}) GROUP BY subject, mcn_id"
    )
    points = _num(rules.ledger_points["off_ledger_sales"])
    return (
        "SELECT subject, mcn_id, 'ledger' AS grp, 'off_ledger_sales' AS item, '' AS kind, "
        "'' AS category, '' AS severity, toFloat64(sum(bad)) AS n, toFloat64(sum(sold)) AS basis, "
        f"least(1, n / greatest(basis, 1)) AS value, {points} * value AS deduction "
        f"FROM ({sold} UNION ALL {bad}) GROUP BY subject, mcn_id"
    )


def ledger_state_sql() -> str:
    """Each ledger row as it stood at the period's end, with whether it held an expired qualification."""
    expired = (
        "arrayExists(d -> d < toString(toDate(%(end)s - 1, %(tz)s)), "
        f"extractAll(argMax(qualifications, imported_at), {_VALID_TO}))"
    )
    return (
        "SELECT mcn_id, product_id, argMax(status, imported_at) AS st, "
        f"{expired} AS expired, argMax(reviewer = '' OR isNull(reviewed_at), imported_at) AS unreviewed "
        "FROM ledger FINAL WHERE imported_at < %(end)s AND {scope} GROUP BY mcn_id, product_id"
    )


def _ledger_rows(level: Level) -> str:
    if level == "mcn":
        return f"SELECT mcn_id AS subject, mcn_id, st, expired, unreviewed FROM ({ledger_state_sql()})"
    sold = (
        "SELECT DISTINCT anchor_id AS subject, mcn_id, ifNull(product_id, '') AS product_id "
        f"FROM listings FINAL WHERE {_IN_PERIOD} AND product_id IS NOT NULL AND {{scope}}"
    )
    return (
        "SELECT subject, mcn_id, st, expired, unreviewed "
        f"FROM ({sold}) AS s ALL INNER JOIN ({ledger_state_sql()}) AS l USING (mcn_id, product_id)"
    )


def _ledger_part(rules: ScoringRules, level: Level, item: str, flag: str) -> str:
    return (
        f"SELECT subject, mcn_id, 'ledger' AS grp, '{item}' AS item, '' AS kind, '' AS category, "
        f"'' AS severity, toFloat64(countIf(st = 'approved' AND {flag})) AS n, "
        "toFloat64(countIf(st = 'approved')) AS basis, if(basis > 0, n / basis, 0) AS value, "
        f"{_num(rules.ledger_points[item])} * value AS deduction "
        f"FROM ({_ledger_rows(level)}) GROUP BY subject, mcn_id"
    )


def items_sql(rules: ScoringRules, level: Level) -> str:
    """One row per line of explanation: monitoring, each violation group, each ledger share."""
    parts = [
        _monitoring_part(rules, level),
        _conduct_part(rules, level),
        _sales_part(rules, level),
        _ledger_part(rules, level, "expired_qualifications", "expired"),
        _ledger_part(rules, level, "unreviewed_approvals", "unreviewed"),
    ]
    return f"SELECT {_COLUMNS} FROM ({' UNION ALL '.join(parts)})"


def scores_sql(rules: ScoringRules, level: Level) -> str:
    """One row per subject: hours, deductions, score and grade."""
    grade = ", ".join(f"score >= {_num(b.min_score)}, '{b.grade}'" for b in rules.grades[:-1])
    return (
        "SELECT subject, mcn_id, sumIf(n, item = 'monitored_hours') AS monitored_hours, "
        "sumIf(value, item = 'monitored_hours') AS live_streams, "
        "sumIf(n, grp = 'conduct') AS violations, "
        f"least({_num(rules.conduct_max_deduction)}, sumIf(deduction, grp = 'conduct')) "
        "AS conduct_deduction, "
        f"least({_num(rules.ledger_max_deduction)}, sumIf(deduction, grp = 'ledger')) AS ledger_deduction, "
        # rounded half up by hand: round() differs between 18.16 and current releases
        "floor(greatest(0, 100 - conduct_deduction - ledger_deduction) * 10 + 0.5) / 10 AS score, "
        f"multiIf({grade}, '{rules.grades[-1].grade}') AS grade "
        f"FROM ({items_sql(rules, level)}) GROUP BY subject, mcn_id"
    )


def trend_sql(rules: ScoringRules, level: Level, months: int) -> str:
    """Score per subject of ``months`` months in one query: :func:`scores_sql` once per month
    (``month_index`` 0 is the first), its bounds ``%(start_<i>)s`` / ``%(end_<i>)s``.

    The month's own SQL rather than a rewrite grouped by month, so a trend point is the month's
    score by construction (one round trip to the store instead of ``months``)."""
    one = scores_sql(rules, level)
    parts = [
        f"SELECT toUInt8({i}) AS month_index, subject, mcn_id, score FROM ("
        + one.replace("%(start)s", f"%(start_{i})s").replace("%(end)s", f"%(end_{i})s")
        + ")"
        for i in range(months)
    ]
    return " UNION ALL ".join(parts)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One line of a score's explanation."""

    group: str  # monitoring | conduct | ledger
    item: str
    kind: str
    category: str
    severity: str
    count: float
    basis: float
    value: float
    deduction: float


@dataclass(frozen=True, slots=True)
class Score:
    level: Level
    subject: str
    mcn_id: str
    period: str
    score: float
    grade: str
    monitored_hours: float
    live_streams: int
    violations: int
    conduct_deduction: float
    ledger_deduction: float
    rules_version: str
    items: tuple[ScoreItem, ...] = ()

    @property
    def provisional(self) -> bool:
        """A stream in the period is still live, so the score may still change."""
        return self.live_streams > 0


def compute_scores(
    store: Store,
    rules: ScoringRules,
    level: Level,
    period: Period,
    scope: Scope,
    *,
    subject: str | None = None,
    explained: bool = True,
) -> list[Score]:
    """Scores of every subject in scope with activity in the period (worst first), explained
    item by item unless ``explained=False`` (one query instead of two, for trends)."""
    params = {**period.params(), "tz": period.timezone}
    rows = scoped_query(store, scores_sql(rules, level), scope, params)
    items = scoped_query(store, items_sql(rules, level), scope, params) if explained else []
    if subject is not None:
        rows = [r for r in rows if r["subject"] == subject]
    by_subject: dict[tuple[str, str], list[ScoreItem]] = {}
    for it in items:
        by_subject.setdefault((it["subject"], it["mcn_id"]), []).append(_item(it))
    scores = [_score(r, level, period, rules, by_subject.get((r["subject"], r["mcn_id"]), [])) for r in rows]
    return sorted(scores, key=lambda s: (s.score, s.mcn_id, s.subject))


def _item(row: dict[str, Any]) -> ScoreItem:
    return ScoreItem(
        group=str(row["grp"]),
        item=str(row["item"]),
        kind=str(row["kind"]),
        category=str(row["category"]),
        severity=str(row["severity"]),
        count=float(row["n"]),
        basis=float(row["basis"]),
        value=float(row["value"]),
        deduction=round(float(row["deduction"]), 2),
    )


_GROUP_ORDER = {"monitoring": 0, "conduct": 1, "ledger": 2}


def _score(
    row: dict[str, Any], level: Level, period: Period, rules: ScoringRules, items: list[ScoreItem]
) -> Score:
    ordered = sorted(
        items, key=lambda i: (_GROUP_ORDER.get(i.group, 9), -i.deduction, i.category, i.severity, i.item)
    )  # the item last: lines of equal deduction keep one order, whatever order the SQL gave
    return Score(
        level=level,
        subject=str(row["subject"]),
        mcn_id=str(row["mcn_id"]),
        period=period.label,
        score=float(row["score"]),
        grade=str(row["grade"]),
        monitored_hours=round(float(row["monitored_hours"]), 2),
        live_streams=int(row["live_streams"]),
        violations=int(row["violations"]),
        conduct_deduction=round(float(row["conduct_deduction"]), 2),
        ledger_deduction=round(float(row["ledger_deduction"]), 2),
        rules_version=rules.version,
        items=tuple(ordered),
    )


# ---------------------------------------------------------------------------------------------
# Explanations

_ITEM_TEXT: dict[str, dict[Language, str]] = {
    "monitored_hours": {
        "zh": "监测时长 {count:.2f} 小时（{basis:.0f} 场直播，{value:.0f} 场进行中）",
        "en": "monitored {count:.2f} h ({basis:.0f} streams, {value:.0f} live)",
    },
    "violations": {
        "zh": "{what}：{count:.0f} 次，每小时加权 {value:.2f}",
        "en": "{what}: {count:.0f}, {value:.2f} weighted per hour",
    },
    "off_card_violations": {
        "zh": "{what}（不在核准卖点卡上）：{count:.0f} 次，每小时加权 {value:.2f}",
        "en": "{what}, off the approved card: {count:.0f}, {value:.2f} weighted per hour",
    },
    "off_ledger_sales": {
        "zh": "未入台账或未通过审核的在售商品 {count:.0f}/{basis:.0f}",
        "en": "products sold off the ledger or unapproved {count:.0f}/{basis:.0f}",
    },
    "expired_qualifications": {
        "zh": "台账中资质已过期的已通过商品 {count:.0f}/{basis:.0f}",
        "en": "approved ledger rows with an expired qualification {count:.0f}/{basis:.0f}",
    },
    "unreviewed_approvals": {
        "zh": "无审核人或审核日期的已通过商品 {count:.0f}/{basis:.0f}",
        "en": "approved ledger rows without reviewer or review date {count:.0f}/{basis:.0f}",
    },
}


def describe_item(item: ScoreItem, language: Language = "zh") -> str:
    """One explanation line in words."""
    what = f"{label(item.category, language)} ({severity_label(item.severity, language)})"
    template = _ITEM_TEXT.get(item.item, {}).get(language, item.item)
    return template.format(what=what, count=item.count, basis=item.basis, value=item.value)


_RULES_WORD: dict[Language, str] = {"zh": "评分规则", "en": "rules"}


def explain(score: Score, rules: ScoringRules, language: Language = "zh") -> list[str]:
    """The score item by item, ending with the total and the grade."""
    lines = [f"{describe_item(i, language)}  -{i.deduction:.2f}" for i in score.items]
    band = rules.band(score.score)
    lines.append(
        f"100 - {score.conduct_deduction:.2f} - {score.ledger_deduction:.2f} = {score.score:.1f} "
        f"→ {band.grade} ({band.names[language]}) [{_RULES_WORD[language]} {score.rules_version}]"
    )
    return lines


# ---------------------------------------------------------------------------------------------
# Trends


def compute_trend(
    store: Store, rules: ScoringRules, level: Level, periods: list[Period], scope: Scope
) -> dict[str, list[float | None]]:
    """Each subject's score in each of ``periods`` (``None`` for a month without activity), in one
    query; the same numbers as :func:`compute_scores` month by month."""
    if not periods:
        return {}
    params: dict[str, Any] = {"tz": periods[0].timezone}
    for i, period in enumerate(periods):
        params[f"start_{i}"], params[f"end_{i}"] = period.start, period.end
    rows = scoped_query(store, trend_sql(rules, level, len(periods)), scope, params)
    series: dict[str, list[float | None]] = {}
    for row in sorted(rows, key=lambda r: (r["month_index"], r["score"], r["mcn_id"], r["subject"])):
        series.setdefault(str(row["subject"]), [None] * len(periods))[int(row["month_index"])] = float(
            row["score"]
        )
    return series
