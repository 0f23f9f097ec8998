"""`claimwatch db init|status`: create or inspect the warehouse the settings name."""

from __future__ import annotations

import click

from pipeline.commands.main import settings_of
from pipeline.warehouse import LATEST_VERSION, open_store


@click.group()
def db() -> None:
    """Create or inspect the warehouse (embedded chdb or clickhouse-server)."""


@db.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database and bring its schema to this release's version (idempotent)."""
    settings = settings_of(ctx)
    with open_store(settings, migrate=False) as store:
        applied = store.migrate()
        for m in applied:
            click.echo(f"applied migration {m.version:04d} {m.name}")
        click.echo(f"{store.kind} warehouse at {store.location}: schema version {store.schema_version()}")


@db.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show where the warehouse is, its schema version and its row counts."""
    settings = settings_of(ctx)
    with open_store(settings, migrate=False) as store:
        version = store.schema_version()
        click.echo(f"warehouse: {store.kind} at {store.location}")
        state = "up to date" if version == LATEST_VERSION else f"this release expects {LATEST_VERSION}"
        click.echo(f"schema:    version {version} ({state})")
        if version == 0:
            click.echo("           not initialised: run `claimwatch db init`")
            return
        for table, count in store.table_counts().items():
            click.echo(f"  {table:<18} {count:>10} rows")
