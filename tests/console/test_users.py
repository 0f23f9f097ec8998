"""Console accounts (the password policy, role changes, resets, known MCNs, administration while
the console holds the embedded store), the demo login and the audit log's append-only rule."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.config import PROJECT_ROOT, Settings, load_settings
from pipeline.console.auth import create_session, session_user
from pipeline.console.users import (
    UserError,
    add_user,
    authenticate,
    change_password,
    ensure_demo_login,
    list_users,
    reset_password,
    set_disabled,
    set_role,
)
from pipeline.stream.broker import free_port, wait_for_port
from pipeline.warehouse import Store
from tests import scenario
from tests.conftest import unique_database
from tests.console_support import PASSWORD, log_in
from tests.pipeline_harness import env_of

WEAK_PASSWORDS = [
    " " * 10,  # whitespace only
    " " * 14,
    "1234567890",  # too short, and a sequence
    "weak4weak4",
    "weak4weak4weak4",  # one piece repeated
    "p" * 12,
    "abcdefghijklm",  # a run of the alphabet
    "password2024!",  # a common password with digits around it
    "qwertyuiop123",
    "iloveyou1314",
    "li.officer-2026",  # the user name inside
]


@pytest.mark.integration
def test_accounts_and_passwords(store: Store) -> None:
    scenario.seed(store)
    add_user(store, "li", "a-long-password", "mcn_officer", mcn_id="mcn-starlight")
    assert authenticate(store, "li", "a-long-password") is not None
    assert authenticate(store, "li", "wrong-password") is None
    assert authenticate(store, "nobody", "a-long-password") is None
    (row,) = store.query("SELECT password_hash FROM users FINAL")
    assert row["password_hash"].startswith("$argon2id$")
    assert "a-long-password" not in row["password_hash"]
    with pytest.raises(UserError, match="exists"):
        add_user(store, "li", "a-long-password", "auditor")
    with pytest.raises(UserError, match="--mcn"):
        add_user(store, "x1", "a-long-password", "mcn_officer")
    with pytest.raises(UserError, match="12 characters"):
        add_user(store, "x2", "short", "auditor")
    set_disabled(store, "li")
    assert authenticate(store, "li", "a-long-password") is None
    set_disabled(store, "li", False)  # same second: the newer row still wins
    assert authenticate(store, "li", "a-long-password") is not None


@pytest.mark.integration
def test_demo_login_is_a_certifier_with_a_fresh_password(store: Store) -> None:
    user, first = ensure_demo_login(store)
    assert authenticate(store, user, first).role == "certifier"  # type: ignore[union-attr]
    _, second = ensure_demo_login(store)
    assert authenticate(store, user, first) is None
    assert authenticate(store, user, second) is not None


@pytest.mark.integration
def test_users_commands(store_settings: Settings, store: Store) -> None:
    scenario.seed(store)
    runner = CliRunner()
    env = env_of(store_settings)
    add = ["users", "add", "wang", "--role", "certifier", "--password-stdin"]
    assert runner.invoke(main, add, env=env, input="secret-password\n").exit_code == 0
    officer = ["users", "add", "li", "--role", "mcn_officer", "--mcn", "mcn-starlight", "--password-stdin"]
    assert (
        "added li (mcn_officer of mcn-starlight)"
        in runner.invoke(main, officer, env=env, input="a-long-password\n").output
    )
    assert runner.invoke(main, ["users", "disable", "li"], env=env).exit_code == 0
    listing = runner.invoke(main, ["users", "list"], env=env).output
    assert re.search(r"li\s+mcn_officer\s+mcn-starlight\s+disabled", listing)
    assert re.search(r"wang\s+certifier\s+-\s+active", listing)
    for weak in ("s", "p" * 12, "1234567890"):
        refused = runner.invoke(
            main, ["users", "add", "x", "--role", "auditor", "--password-stdin"], env=env, input=weak + "\n"
        )
        assert refused.exit_code == 2, refused.output
    unknown = ["users", "add", "y", "--role", "mcn_officer", "--mcn", "mcn-nowhere", "--password-stdin"]
    assert runner.invoke(main, unknown, env=env, input="a-long-password\n").exit_code == 2
    role = runner.invoke(main, ["users", "set-role", "li", "auditor"], env=env)
    assert role.exit_code == 0
    assert "li is now auditor" in role.output
    reset = runner.invoke(main, ["users", "reset-password", "wang"], env=env)
    assert reset.exit_code == 0, reset.output
    temporary = reset.output.strip().split()[-1]
    assert authenticate(store, "wang", temporary) is not None
    assert authenticate(store, "wang", "secret-password") is None
    assert [u.username for u in list_users(store)] == ["li", "wang"]
    actions = {r["action"] for r in store.query("SELECT action FROM audit_log")}
    assert actions == {"user.add", "user.disable", "user.role", "user.password_reset"}


@pytest.mark.integration
def test_password_policy(store: Store) -> None:
    for i, weak in enumerate(WEAK_PASSWORDS):
        with pytest.raises(UserError):
            add_user(store, "li.officer" if "li.officer" in weak else f"user{i}", weak, "auditor")
    add_user(store, "li.officer", "correct horse battery", "auditor")
    add_user(store, "x2", "风铃草在窗台上轻轻地摇晃", "auditor")  # 12 characters of Chinese
    assert {u.username for u in list_users(store)} == {"li.officer", "x2"}


@pytest.mark.integration
def test_an_officer_of_an_unknown_mcn_is_refused(store: Store) -> None:
    with pytest.raises(UserError, match="unknown MCN"):
        add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-nowhere")
    scenario.seed(store)  # mcn-starlight has a ledger and streams now
    assert add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-starlight").mcn_id == "mcn-starlight"


@pytest.mark.integration
def test_role_change_reset_and_change_of_password(store: Store) -> None:
    scenario.seed(store)
    add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-starlight")
    token, _ = create_session(store, "li", hours=1)
    assert set_role(store, "li", "auditor").scope.mcn_ids is None  # every MCN, read-only
    with pytest.raises(UserError, match="unknown MCN"):
        set_role(store, "li", "mcn_officer", mcn_id="mcn-nowhere")
    assert set_role(store, "li", "mcn_officer", mcn_id="mcn-rival").mcn_id == "mcn-rival"
    temporary = reset_password(store, "li")
    assert authenticate(store, "li", PASSWORD) is None
    assert authenticate(store, "li", temporary) is not None
    assert session_user(store, token) is None  # a reset ends the sessions
    with pytest.raises(UserError, match="current password"):
        change_password(store, "li", "not-the-password", "another long passphrase")
    with pytest.raises(UserError):
        change_password(store, "li", temporary, "1234567890")
    change_password(store, "li", temporary, "another long passphrase")
    assert authenticate(store, "li", "another long passphrase") is not None


def _claimwatch(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.integration
@pytest.mark.slow
def test_accounts_are_administered_while_the_console_holds_the_embedded_store(tmp_path: Path) -> None:
    settings = load_settings(
        warehouse="embedded", data_dir=tmp_path / "data", clickhouse_database=unique_database()
    )
    port = free_port()
    env = {**env_of(settings), "CLAIMWATCH_CONSOLE_PORT": str(port)}
    added = _claimwatch(env, "users", "add", "aud", "--role", "auditor", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    log = (tmp_path / "console.log").open("wb")
    console = subprocess.Popen([sys.executable, "-m", "pipeline", "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_for_port("127.0.0.1", port, 60, console)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{port}"
        session = log_in(url, "aud")
        assert session.get("/").status_code == 200
        disabled = _claimwatch(env, "users", "disable", "aud")
        assert disabled.returncode == 0, disabled.stderr
        assert "disabled aud" in disabled.stdout
        assert session.get("/").status_code == 303  # cut off at once, the console still running
        added = _claimwatch(
            env, "users", "add", "wu", "--role", "certifier", "--password-stdin", stdin=PASSWORD
        )
        assert added.returncode == 0, added.stderr
        reset = _claimwatch(env, "users", "reset-password", "wu")
        assert reset.returncode == 0, reset.stderr
        log_in(url, "wu", reset.stdout.strip().split()[-1]).close()
        assert _claimwatch(env, "users", "set-role", "wu", "auditor").returncode == 0
        listing = _claimwatch(env, "users", "list").stdout
        assert re.search(r"aud\s+auditor\s+-\s+disabled", listing)
        assert re.search(r"wu\s+auditor\s+-\s+active", listing)
        session.close()
    finally:
        console.terminate()
        console.wait(timeout=30)
        log.close()
    audit = _claimwatch(env, "users", "list")
    assert audit.returncode == 0  # with the console gone, the CLI opens the store itself again


def test_audit_log_is_only_ever_appended_to() -> None:
    for path in (PROJECT_ROOT / "pipeline").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for statement in (
            "ALTER TABLE audit_log",
            "DELETE FROM audit_log",
            "TRUNCATE",
            "DROP TABLE audit_log",
        ):
            assert statement not in text, f"{path} modifies the audit log"
