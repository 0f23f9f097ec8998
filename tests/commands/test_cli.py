"""The command line: help, version, and `db init|status` on both stores."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from pipeline import __version__
from pipeline.commands.main import main
from pipeline.config import Settings
from pipeline.warehouse import LATEST_VERSION
from tests.pipeline_harness import env_of


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("version", "db", "eval", "demo", "worker", "ingest", "detect", "serve"):
        assert command in result.output


def test_version_command_and_option() -> None:
    assert CliRunner().invoke(main, ["version"]).output.strip() == f"claimwatch {__version__}"
    assert __version__ in CliRunner().invoke(main, ["--version"]).output


def test_console_script_is_installed() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"claimwatch {__version__}"


@pytest.mark.integration
def test_db_init_then_status_on_both_stores(store_settings: Settings) -> None:
    runner = CliRunner()
    env = env_of(store_settings)
    before = runner.invoke(main, ["db", "status"], env=env)
    assert before.exit_code == 0, before.output
    assert "not initialised" in before.output

    init = runner.invoke(main, ["db", "init"], env=env)
    assert init.exit_code == 0, init.output
    assert "applied migration 0001 initial" in init.output
    again = runner.invoke(main, ["db", "init"], env=env)
    assert "applied migration" not in again.output
    assert f"schema version {LATEST_VERSION}" in again.output

    status = runner.invoke(main, ["db", "status"], env=env)
    assert status.exit_code == 0
    assert f"{store_settings.warehouse} at" in status.output
    assert "up to date" in status.output
    assert "violations" in status.output


def test_bad_setting_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(main, ["db", "status"], env={"CLAIMWATCH_WAREHOUSE": "oracle"})
    assert result.exit_code == 2
    assert result.output.startswith("error: invalid settings: warehouse")


def test_every_command_listed_loads_and_its_summary_matches_its_docstring() -> None:
    from pipeline.commands.main import COMMANDS, EVAL_COMMANDS, load_command

    for name, (target, summary) in {**COMMANDS, **EVAL_COMMANDS}.items():
        command = load_command(target)
        words = (command.help or "").split()[:3]
        assert summary.split()[:3] == words, f"{name}: --help says {summary!r}, the command {words}"


def test_help_does_not_import_the_heavy_stages() -> None:
    code = (
        "import sys; from pipeline.commands.main import main; main(['--help'], standalone_mode=False); "
        "assert not {'spacy', 'faust', 'faster_whisper', 'chdb'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
