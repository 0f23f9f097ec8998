"""`claimwatch ledger import|check`: bring an MCN's selection ledger in, and report its hygiene."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from pipeline.commands.main import settings_of
from pipeline.config import Settings
from pipeline.errors import RecordError
from pipeline.ledger.files import LedgerRead, read_ledger
from pipeline.ledger.hygiene import SOON_DAYS, LedgerIssue, check_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.records import LedgerEntry
from pipeline.warehouse import open_store
from pipeline.warehouse.ledger import current_ledger, save_import


@click.group()
def ledger() -> None:
    """Import selection ledgers (选品台账) and check their hygiene."""


@ledger.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mcn-id", required=True, help="The MCN whose ledger this is (fills and checks the mcn_id column)."
)
@click.option("--strict", is_flag=True, help="Refuse the whole file when any row is bad.")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing to the warehouse.")
@click.pass_context
def import_(ctx: click.Context, *, file: Path, mcn_id: str, strict: bool, dry_run: bool) -> None:
    """Validate a ledger FILE (CSV, XLSX or JSONL; English or Chinese headers) and import it.

    Each bad row is reported with file, row, column and reason; the good rows are imported unless
    --strict. A product already in the warehouse gets a new version only if its row changed (the
    history is kept). Exit status: 0 clean, 1 when any row was bad (or the file was refused).
    """
    settings = settings_of(ctx)
    rules = load_rules(settings.lexicon_dir)
    result = read_ledger(
        file,
        rules,
        mcn_id=mcn_id,
        strict=strict,
        max_bytes=settings.ledger_max_bytes,
        max_rows=settings.ledger_max_rows,
    )
    _report_errors(result.errors)
    click.echo(
        f"{result.source}: {result.rows} rows read, {len(result.entries)} valid, {len(result.errors)} errors"
    )
    if result.refused:
        click.echo("refused (--strict): nothing imported", err=True)
        sys.exit(1)
    if not dry_run and result.entries:
        _save(settings, result)
    if result.errors:
        sys.exit(1)


def _report_errors(errors: tuple[RecordError, ...]) -> None:
    for error in errors:
        click.echo(f"error: {error}", err=True)


def _save(settings: Settings, result: LedgerRead) -> None:
    with open_store(settings) as store:
        summary = save_import(store, result.entries, imported_at=datetime.now(UTC), source=result.source)
    click.echo(
        f"imported {summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged "
        f"(import {summary.import_id}) into the {settings.warehouse} warehouse"
    )
    if settings.broker_url:  # running workers learn the new rows from the compacted ledger topic
        from pipeline.stream.publish import publish_ledger

        sent = publish_ledger(
            settings.broker_url,
            settings.topic_partitions,
            result.entries,
            delivery_timeout_s=settings.broker_delivery_timeout_s,
        )
        click.echo(f"published {sent} rows to the ledger topic at {settings.broker_url}")


@ledger.command()
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="Check this ledger file instead of the warehouse's current ledger.")  # fmt: skip
@click.option("--mcn-id", help="Only this MCN (the warehouse holds every MCN's ledger).")
@click.option(
    "--as-of", type=click.DateTime(["%Y-%m-%d"]), help="The day to judge expiry on (default: today)."
)
@click.option("--within-days", type=click.IntRange(min=0), default=SOON_DAYS, show_default=True,
              help="Report qualifications expiring within this many days.")  # fmt: skip
@click.option("--jsonl", is_flag=True, help="One JSON object per issue instead of text.")
@click.pass_context
def check(
    ctx: click.Context,
    *,
    file: Path | None,
    mcn_id: str | None,
    as_of: datetime | None,
    within_days: int,
    jsonl: bool,
) -> None:
    """Report ledger hygiene: expired or soon-expiring qualifications, categories lacking a required
    qualification, malformed numbers, qualifications without expiry, approvals without a reviewer.

    Exit status: 0 when the ledger is clean, 1 when any issue was found.
    """
    settings = settings_of(ctx)
    rules = load_rules(settings.lexicon_dir)
    today = as_of.date() if as_of else date.today()
    entries = _entries_of(ctx, file, mcn_id)
    issues = check_ledger(entries, rules, today=today, within_days=within_days)
    for issue in issues:
        click.echo(_issue_json(issue) if jsonl else _issue_text(issue))
    if not jsonl:
        click.echo(f"{len(entries)} products checked on {today}: {len(issues)} issue(s)")
    if issues:
        sys.exit(1)


def _entries_of(ctx: click.Context, file: Path | None, mcn_id: str | None) -> list[LedgerEntry]:
    settings = settings_of(ctx)
    if file is not None:
        result = read_ledger(
            file,
            load_rules(settings.lexicon_dir),
            mcn_id=mcn_id,
            max_bytes=settings.ledger_max_bytes,
            max_rows=settings.ledger_max_rows,
        )
        _report_errors(result.errors)
        return list(result.entries)
    with open_store(settings) as store:
        return current_ledger(store, mcn_id)


def _issue_text(issue: LedgerIssue) -> str:
    return f"{issue.severity:<6} {issue.issue:<24} {issue.mcn_id}/{issue.product_id}: {issue.detail}"


def _issue_json(issue: LedgerIssue) -> str:
    fields = {
        "mcn_id": issue.mcn_id,
        "product_id": issue.product_id,
        "issue": issue.issue,
        "severity": issue.severity,
        "detail": issue.detail,
        "qualification_type": issue.qualification_type,
        "number": issue.number,
    }
    return json.dumps(fields, ensure_ascii=False)
