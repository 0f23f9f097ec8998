"""The `claimwatch` command line: the root group; each area's commands live in its own module and
are listed in ``COMMANDS`` (imported when run)."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any, ClassVar

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


# Commands live in their areas' modules and are imported only when run: `claimwatch --help` and a
# quick `db status` should not pay for spaCy, faust and Whisper. The summary shown in --help is
# kept here; tests/commands/test_cli.py checks it against each command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": (
        "pipeline.commands.stream:analyze_command",
        "Analyse a recorded stream in-process (no servers).",
    ),
    "card": (
        "pipeline.commands.card:card",
        "Selling-point cards (卖点卡): import, review against the rules, approve.",
    ),
    "db": (
        "pipeline.commands.db:db",
        "Create or inspect the warehouse (embedded chdb or clickhouse-server).",
    ),
    "deadletter": ("pipeline.commands.stream:deadletter", "Messages the workers could not process."),
    "demo": (
        "pipeline.commands.stream:demo",
        "The bundled sample stream through the whole pipeline on embedded parts.",
    ),
    "detect": ("pipeline.commands.claims:detect", "Find claims in texts (JSON lines in, JSON lines out)."),
    "evidence": ("pipeline.commands.evidence:evidence", "Export signed evidence bundles and verify them."),
    "ingest": (
        "pipeline.commands.stream:ingest",
        "Publish a stream's audio or listing events to the broker.",
    ),
    "ledger": (
        "pipeline.commands.ledger:ledger",
        "Import selection ledgers (选品台账) and check their hygiene.",
    ),
    "score": (
        "pipeline.commands.score:score",
        "Surveillance scores (0-100) and grades per anchor and per MCN.",
    ),
    "serve": ("pipeline.commands.console:serve", "Serve the web console."),
    "topics": (
        "pipeline.commands.stream:topics_command",
        "The broker's topics: their partitions against the configuration, and repair.",
    ),
    "transcribe": (
        "pipeline.commands.speech:transcribe",
        "Transcribe AUDIO (an audio/video file or a live URL) to JSONL segments.",
    ),
    "users": (
        "pipeline.commands.console:users",
        "Console accounts: certifier, mcn_officer (one MCN) or auditor.",
    ),
    "worker": (
        "pipeline.commands.stream:worker",
        "Run a stream worker (faust): transcribe, detect, check, store, alert.",
    ),
}
EVAL_COMMANDS: dict[str, tuple[str, str]] = {
    "claims": (
        "pipeline.commands.claims:eval_claims",
        "Precision, recall and F1 per category on a labelled JSONL file.",
    ),
    "asr": (
        "pipeline.commands.speech:eval_asr",
        "Character error rate of the speech recogniser on a directory.",
    ),
}


def load_command(target: str) -> click.Command:
    module, _, name = target.partition(":")
    command = getattr(importlib.import_module(module), name)
    assert isinstance(command, click.Command), target
    return command


class _Lazy(click.Group):
    """A group whose listed commands are imported on first use."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(load_command(self.lazy[cmd_name][0]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1] if name in self.lazy else self._summary(ctx, name))
                for name in self.list_commands(ctx)]  # fmt: skip
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _summary(self, ctx: click.Context, name: str) -> str:
        command = self.get_command(ctx, name)
        return command.get_short_help_str(80) if command else ""


class _Main(_Lazy, _Group):
    lazy = COMMANDS


class _Eval(_Lazy):
    lazy = EVAL_COMMANDS


def settings_of(ctx: click.Context) -> Settings:
    """The settings, read once per invocation."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings()
    settings: Settings = root.obj
    return settings


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
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


@main.group(name="eval", cls=_Eval)
def eval_group() -> None:
    """Evaluate the detector or the speech recogniser on labelled data."""
