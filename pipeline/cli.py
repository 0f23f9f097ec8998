"""The `claimwatch` command line. Each area adds its commands here; the logic lives in its module."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from pipeline import __version__
from pipeline.config import Settings, load_settings
from pipeline.errors import ClaimWatchError


class _Group(click.Group):
    """A group that prints ClaimWatch errors as one line and exits 2 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClaimWatchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


def settings_of(ctx: click.Context) -> Settings:
    """The settings, read once per invocation."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings()
    settings: Settings = root.obj
    return settings


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="claimwatch")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """ClaimWatch: monitor live-commerce streams for prohibited claims, missing qualifications
    and off-ledger products.

    Settings come from CLAIMWATCH_* environment variables and an optional TOML file
    (CLAIMWATCH_CONFIG); the defaults need no servers.
    """
    configure_logging(verbose)


def configure_logging(verbose: int) -> None:
    """Log to stderr; drivers' own connection tracebacks only when debugging."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        for noisy in ("clickhouse_driver", "aiokafka", "kafka", "faust", "mode"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL if verbose == 0 else logging.ERROR)


@main.command()
def version() -> None:
    """Print the ClaimWatch version."""
    click.echo(f"claimwatch {__version__}")


@main.group(name="eval")
def eval_group() -> None:
    """Evaluate the detector or the speech recogniser on labelled data."""


def _register_commands() -> None:
    """Each area's commands; imported here, last, so their modules can import `settings_of`."""
    from pipeline.warehouse.cli import db

    main.add_command(db)

    from pipeline.ledger_cli import ledger

    main.add_command(ledger)

    from pipeline.claims.cli import detect, eval_claims

    main.add_command(detect)
    eval_group.add_command(eval_claims)

    from pipeline.speech_cli import eval_asr, transcribe

    main.add_command(transcribe)
    eval_group.add_command(eval_asr)

    from pipeline.console.cli import serve, users
    from pipeline.evidence_cli import evidence
    from pipeline.scoring_cli import score

    for command in (score, serve, users, evidence):
        main.add_command(command)

    from pipeline.stream_cli import analyze_command, deadletter, demo, ingest, worker

    for command in (demo, worker, ingest, deadletter, analyze_command):
        main.add_command(command)


_register_commands()
