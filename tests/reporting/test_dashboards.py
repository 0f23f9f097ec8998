"""Panel queries run on both stores, in the console and as Grafana SQL; the dashboard is current."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.reporting.grafana import OUTPUT, build_dashboard, grafana_sql, render
from pipeline.reporting.panels import PANELS, Panel, run_panel
from pipeline.reporting.scope import SCOPE_TOKEN, Period, Scope
from pipeline.reporting.scoring_rules import load_rules
from pipeline.warehouse import Store
from tests import scenario

RULES = load_rules(PROJECT_ROOT / "lexicons" / "scoring.yaml")
NOVEMBER = Period.parse(scenario.PERIOD, "Asia/Shanghai")
IDS = [p.id for p in PANELS]


def grafana_expanded(panel: Panel, mcns: list[str]) -> str:
    """The Grafana SQL with the macros and variables expanded as Grafana would."""
    sql = grafana_sql(panel.sql(RULES))
    assert "%(" not in sql
    assert SCOPE_TOKEN not in sql
    return (
        sql.replace("$__fromTime", f"toDateTime({int(NOVEMBER.start.timestamp())})")
        .replace("$__toTime", f"toDateTime({int(NOVEMBER.end.timestamp())})")
        .replace("${tz}", "Asia/Shanghai")
        .replace("${mcn:singlequote}", ", ".join(f"'{m}'" for m in mcns))
    )


@pytest.mark.integration
@pytest.mark.parametrize("panel", PANELS, ids=IDS)
def test_each_panel_runs_on_both_stores(store: Store, panel: Panel) -> None:
    scenario.seed(store)
    everything = run_panel(store, panel, RULES, Scope.everything(), NOVEMBER)
    officer = run_panel(store, panel, RULES, Scope.only("mcn-starlight"), NOVEMBER)
    assert everything
    assert officer
    assert scenario.SECRET not in json.dumps(officer, default=str)
    assert "mcn-rival" not in json.dumps(officer, default=str)
    in_grafana = store.query(grafana_expanded(panel, ["mcn-starlight", "mcn-rival"]))
    assert len(in_grafana) == len(everything)


def test_every_panel_query_is_scoped() -> None:
    for panel in PANELS:
        assert SCOPE_TOKEN in panel.sql(RULES), panel.id


def test_committed_dashboard_is_generated_from_the_panels() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render(RULES, "Asia/Shanghai"), (
        "dashboards/claimwatch.json is stale: run `python -m pipeline.reporting.grafana`"
    )
    dashboard = build_dashboard(RULES, "Asia/Shanghai")
    assert [p["description"].split("`")[1] for p in dashboard["panels"]] == IDS
    for panel in dashboard["panels"]:
        assert panel["datasource"]["type"] == "grafana-clickhouse-datasource"


def test_grafana_time_macros_cover_the_period() -> None:
    sql = grafana_expanded(PANELS[0], ["x"])
    assert f"toDateTime({int(datetime(2026, 10, 31, 16, tzinfo=UTC).timestamp())})" in sql
