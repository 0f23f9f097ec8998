"""`claimwatch serve` and `claimwatch users add|list|disable|enable|set-role|reset-password`."""

from __future__ import annotations

import sys
from typing import Any

import click

from pipeline.commands.main import settings_of
from pipeline.console.admin import ConsoleUnreachable, administer, call_console
from pipeline.console.users import ROLES, UserError
from pipeline.warehouse import open_store


@click.command()
@click.option("--host", help="Address to listen on (default: CLAIMWATCH_CONSOLE_HOST).")
@click.option("--port", type=int, help="Port (default: CLAIMWATCH_CONSOLE_PORT).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web console (scores, live violations, review, evidence) until Ctrl-C."""
    from pipeline.console.server import serve as run

    run(settings_of(ctx), host=host, port=port)


@click.group()
def users() -> None:
    """Console accounts: certifier, mcn_officer (one MCN) or auditor.

    While `claimwatch serve` runs on the embedded warehouse, these commands go through the running
    console (its socket in the data directory); otherwise they open the warehouse themselves.
    """


def _administer(ctx: click.Context, op: str, **args: Any) -> dict[str, Any]:
    """``op`` through the running console if one answers, else on the store opened here;
    a refusal exits 2 with its reason."""
    settings = settings_of(ctx)
    try:
        if settings.warehouse == "embedded":
            try:
                return call_console(settings, op, args)
            except ConsoleUnreachable:
                pass
        with open_store(settings) as store:
            return administer(store, settings, "cli", op, args)
    except UserError as exc:
        raise click.UsageError(str(exc)) from None


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--mcn", "mcn_id", default="", help="The officer's MCN (mcn_officer only; one with a ledger or streams)."
)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.pass_context
def add(
    ctx: click.Context, username: str, *, role: str, mcn_id: str, display_name: str, password_stdin: bool
) -> None:
    """Create an account; the password is asked for (twice) unless --password-stdin.

    Passwords: at least CLAIMWATCH_CONSOLE_PASSWORD_MIN_LENGTH characters (12), not only spaces,
    not a common or breached password, not one piece repeated, not the user name.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    done = _administer(
        ctx, "add", username=username, password=password, role=role, mcn_id=mcn_id, display_name=display_name
    )
    user = done["user"]
    scope = f" of {user['mcn_id']}" if user["mcn_id"] else ""
    click.echo(f"added {user['username']} ({user['role']}{scope})")


@users.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the accounts (never the passwords)."""
    for u in _administer(ctx, "list")["users"]:
        state = "disabled" if u["disabled"] else "active"
        click.echo(f"{u['username']:<24} {u['role']:<12} {u['mcn_id'] or '-':<20} {state}")


@users.command()
@click.argument("username")
@click.pass_context
def disable(ctx: click.Context, username: str) -> None:
    """Disable an account; its sessions stop working at once (also while the console runs)."""
    _administer(ctx, "disable", username=username)
    click.echo(f"disabled {username}")


@users.command()
@click.argument("username")
@click.pass_context
def enable(ctx: click.Context, username: str) -> None:
    """Enable a disabled account again."""
    _administer(ctx, "enable", username=username)
    click.echo(f"enabled {username}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--mcn", "mcn_id", default="", help="The officer's MCN (mcn_officer only).")
@click.pass_context
def set_role(ctx: click.Context, username: str, role: str, mcn_id: str) -> None:
    """Give an account another role (takes effect on its next request)."""
    user = _administer(ctx, "set-role", username=username, role=role, mcn_id=mcn_id)["user"]
    scope = f" of {user['mcn_id']}" if user["mcn_id"] else ""
    click.echo(f"{username} is now {user['role']}{scope}")


@users.command("reset-password")
@click.argument("username")
@click.pass_context
def reset_password(ctx: click.Context, username: str) -> None:
    """Give an account a new random password, printed once; its sessions end."""
    password = _administer(ctx, "reset-password", username=username)["password"]
    click.echo(f"new password for {username}: {password}")
