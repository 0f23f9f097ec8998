"""Console accounts, the demo login, the audit log's append-only rule and the vendored assets."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.config import PROJECT_ROOT, Settings
from pipeline.console.users import (
    UserError,
    add_user,
    authenticate,
    ensure_demo_login,
    list_users,
    set_disabled,
)
from pipeline.warehouse import Store
from tests.pipeline_harness import env_of


@pytest.mark.integration
def test_accounts_and_passwords(store: Store) -> None:
    add_user(store, "li", "a-long-password", "mcn_officer", mcn_id="mcn-a")
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
    with pytest.raises(UserError, match="10 characters"):
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
    runner = CliRunner()
    env = env_of(store_settings)
    add = ["users", "add", "wang", "--role", "certifier", "--password-stdin"]
    assert runner.invoke(main, add, env=env, input="secret-password\n").exit_code == 0
    officer = ["users", "add", "li", "--role", "mcn_officer", "--mcn", "mcn-a", "--password-stdin"]
    assert (
        "added li (mcn_officer of mcn-a)"
        in runner.invoke(main, officer, env=env, input="p" * 12 + "\n").output
    )
    assert runner.invoke(main, ["users", "disable", "li"], env=env).exit_code == 0
    listing = runner.invoke(main, ["users", "list"], env=env).output
    assert re.search(r"li\s+mcn_officer\s+mcn-a\s+disabled", listing)
    assert re.search(r"wang\s+certifier\s+-\s+active", listing)
    short = runner.invoke(
        main, ["users", "add", "x", "--role", "auditor", "--password-stdin"], env=env, input="s\n"
    )
    assert short.exit_code == 2
    assert [u.username for u in list_users(store)] == ["li", "wang"]
    actions = {r["action"] for r in store.query("SELECT action FROM audit_log")}
    assert actions == {"user.add", "user.disable"}


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
