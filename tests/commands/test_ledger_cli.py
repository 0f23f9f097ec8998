"""`claimwatch ledger import|check` on the embedded warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.sample import SAMPLE_DIR

SAMPLE = SAMPLE_DIR / "ledger.csv"


@pytest.fixture
def env(embedded_dir: Path) -> dict[str, str]:
    import uuid

    return {
        "CLAIMWATCH_WAREHOUSE": "embedded",
        "CLAIMWATCH_DATA_DIR": str(embedded_dir),
        "CLAIMWATCH_CLICKHOUSE_DATABASE": f"test_{uuid.uuid4().hex[:12]}",
    }


def broken_ledger(tmp_path: Path) -> Path:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines.append("P-2000,mcn-starlight,神奇药丸,某牌,pills,,approved,2026-09-01,,,,,")
    path = tmp_path / "ledger.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.integration
def test_import_then_check(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["ledger", "import", str(SAMPLE), "--mcn-id", "mcn-starlight"], env=env)
    assert first.exit_code == 0, first.output
    assert "5 rows read, 5 valid, 0 errors" in first.output
    assert "imported 5 new, 0 changed, 0 unchanged" in first.output
    again = runner.invoke(main, ["ledger", "import", str(SAMPLE), "--mcn-id", "mcn-starlight"], env=env)
    assert "imported 0 new, 0 changed, 5 unchanged" in again.output

    check = runner.invoke(main, ["ledger", "check", "--as-of", "2027-03-15", "--jsonl"], env=env)
    assert check.exit_code == 1
    (issue,) = [json.loads(line) for line in check.output.splitlines()]
    assert (issue["product_id"], issue["issue"]) == ("P-1005", "expiring_qualification")
    clean = runner.invoke(
        main, ["ledger", "check", "--as-of", "2026-11-20", "--mcn-id", "mcn-starlight"], env=env
    )
    assert clean.exit_code == 0, clean.output
    assert "5 products checked on 2026-11-20: 0 issue(s)" in clean.output


def test_bad_rows_are_reported_and_good_rows_kept(env: dict[str, str], tmp_path: Path) -> None:
    path = broken_ledger(tmp_path)
    result = CliRunner().invoke(
        main, ["ledger", "import", str(path), "--mcn-id", "mcn-starlight", "--dry-run"], env=env
    )
    assert result.exit_code == 1
    assert f"error: {path}:7: field 'category': unknown category 'pills'" in result.output
    assert "6 rows read, 5 valid, 1 errors" in result.output
    assert "imported" not in result.output  # --dry-run


def test_strict_refuses(env: dict[str, str], tmp_path: Path) -> None:
    path = broken_ledger(tmp_path)
    args = ["ledger", "import", str(path), "--mcn-id", "mcn-starlight", "--strict"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    assert "refused (--strict): nothing imported" in result.output


def test_check_a_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ledger", "check", "--file", str(SAMPLE), "--as-of", "2027-04-01"])
    assert result.exit_code == 1
    assert "high   expired_qualification    mcn-starlight/P-1005" in result.output
