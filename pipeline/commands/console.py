"""`claimwatch serve` and `claimwatch users add|list|disable|enable`."""

from __future__ import annotations

import sys

import click

from pipeline.commands.main import settings_of
from pipeline.console.users import ROLES, add_user, list_users, set_disabled
from pipeline.reporting.audit import record
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
    """Console accounts: certifier, mcn_officer (one MCN) or auditor."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--mcn", "mcn_id", default="", help="The officer's MCN (mcn_officer only).")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.pass_context
def add(
    ctx: click.Context, username: str, *, role: str, mcn_id: str, display_name: str, password_stdin: bool
) -> None:
    """Create an account; the password is asked for (twice) unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with open_store(settings_of(ctx)) as store:
        user = add_user(store, username, password, role, mcn_id=mcn_id, display_name=display_name)
        record(store, "cli", "user.add", user.username, user.mcn_id, role=user.role)
    scope = f" of {user.mcn_id}" if user.mcn_id else ""
    click.echo(f"added {user.username} ({user.role}{scope})")


@users.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the accounts (never the passwords)."""
    with open_store(settings_of(ctx)) as store:
        for u in list_users(store):
            state = "disabled" if u.disabled else "active"
            click.echo(f"{u.username:<24} {u.role:<12} {u.mcn_id or '-':<20} {state}")


@users.command()
@click.argument("username")
@click.pass_context
def disable(ctx: click.Context, username: str) -> None:
    """Disable an account; its sessions stop working at once."""
    with open_store(settings_of(ctx)) as store:
        user = set_disabled(store, username, True)
        record(store, "cli", "user.disable", user.username, user.mcn_id)
    click.echo(f"disabled {username}")


@users.command()
@click.argument("username")
@click.pass_context
def enable(ctx: click.Context, username: str) -> None:
    """Enable a disabled account again."""
    with open_store(settings_of(ctx)) as store:
        user = set_disabled(store, username, False)
        record(store, "cli", "user.enable", user.username, user.mcn_id)
    click.echo(f"enabled {username}")
