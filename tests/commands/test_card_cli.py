"""`claimwatch card import|check|approve|show` on the embedded warehouse, with the real detector."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.config import load_settings
from pipeline.console.users import add_user
from pipeline.reporting.audit import recent
from pipeline.reporting.scope import Scope
from pipeline.sample import SAMPLE_DIR
from pipeline.warehouse import open_store
from tests.paths import DATA

CARDS = DATA / "cards"
MCN = ["--mcn-id", "mcn-starlight"]


@pytest.fixture
def env(embedded_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "CLAIMWATCH_WAREHOUSE": "embedded",
        "CLAIMWATCH_DATA_DIR": str(embedded_dir),
        "CLAIMWATCH_CLICKHOUSE_DATABASE": f"test_{uuid.uuid4().hex[:12]}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    assert (
        runner.invoke(main, ["ledger", "import", str(SAMPLE_DIR / "ledger.csv"), *MCN], env=values).exit_code
        == 0
    )
    with open_store(load_settings()) as store:
        add_user(store, "wangmin", "a long enough password", "mcn_officer", mcn_id="mcn-starlight")
        add_user(store, "other", "a long enough password", "certifier")
    return values


@pytest.mark.integration
def test_import_check_and_approve_with_override(env: dict[str, str]) -> None:
    run = CliRunner().invoke
    imported = run(main, ["card", "import", str(CARDS / "brand_cards.xlsx"), *MCN], env=env)
    assert imported.exit_code == 0, imported.output
    assert "P-1001: version 1 (draft)" in imported.output
    assert "✗ line 4: 用了就能美白淡斑" in imported.output
    again = run(main, ["card", "import", str(CARDS / "brand_cards.xlsx"), *MCN], env=env)
    assert "P-1001: unchanged, version 1 (draft)" in again.output

    check = run(main, ["card", "check", *MCN, "--product-id", "P-1001", "--jsonl"], env=env)
    assert check.exit_code == 1  # high findings
    findings = [json.loads(line) for line in check.output.splitlines()]
    assert {(f["line"], f["check"]) for f in findings} >= {(4, "efficacy_without_registration"), (5, "price")}
    assert all(f["legal_basis"] and f["rewrite"] for f in findings)

    approve = ["card", "approve", *MCN, "--product-id", "P-1001"]
    refused = run(main, [*approve, "--by", "wangmin"], env=env)
    assert refused.exit_code != 0
    assert "high finding(s)" in refused.output
    not_officer = run(main, [*approve, "--by", "other", "--override-reason", "x"], env=env)
    assert "no enabled mcn_officer of mcn-starlight" in not_officer.output
    reason = "品牌已提交国妆特字注册，卖点第3、4行直播中不得使用"
    done = run(main, [*approve, "--by", "wangmin", "--override-reason", reason], env=env)
    assert done.exit_code == 0, done.output
    assert "P-1001 version 1 approved by wangmin" in done.output
    shown = run(main, ["card", "show", *MCN, "--product-id", "P-1001"], env=env)
    assert "P-1001 v1 approved by wangmin" in shown.output
    assert reason in shown.output
    with open_store(load_settings()) as store:
        (entry,) = [e for e in recent(store, Scope.everything()) if e["action"] == "card.approve"]
    assert (entry["actor"], entry["target"]) == ("wangmin", "card:mcn-starlight/P-1001/v1")
    assert json.loads(entry["details"])["override_reason"] == reason


@pytest.mark.integration
def test_clean_card_approves_and_errors_name_file_line_field(env: dict[str, str], tmp_path: Path) -> None:
    run = CliRunner().invoke
    assert run(main, ["card", "import", str(CARDS / "cream_card.md"), *MCN], env=env).exit_code == 0
    ok = run(main, ["card", "approve", *MCN, "--product-id", "P-1001", "--by", "wangmin"], env=env)
    assert ok.exit_code == 0, ok.output
    unknown = tmp_path / "card.txt"
    unknown.write_text("商品编号：P-9999\n- 深层保湿\n", encoding="utf-8")
    bad = run(main, ["card", "import", str(unknown), *MCN], env=env)
    assert bad.exit_code == 1
    assert (
        f"error: {unknown}:1: field '商品编号': 'P-9999' is not on the ledger of mcn-starlight" in bad.output
    )
    rows = run(main, ["card", "import", str(CARDS / "bad_rows.csv"), *MCN, "--dry-run"], env=env)
    assert rows.exit_code == 1
    assert f"{CARDS / 'bad_rows.csv'}:3: field '卖点': is empty" in rows.output
