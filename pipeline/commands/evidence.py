"""`claimwatch evidence export|verify`: signed evidence bundles."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from pipeline.commands.main import settings_of
from pipeline.reporting.audit import record
from pipeline.reporting.evidence import Subject, build_bundle, collect_cases, verify_bundle
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.signing import key_path, load_or_create_key, load_public
from pipeline.warehouse import open_store


@click.group()
def evidence() -> None:
    """Export signed evidence bundles and verify them."""


@evidence.command()
@click.option("--violation", "violation_id", help="One violation, by event id.")
@click.option("--anchor", "anchor_id", help="All violations of an anchor in --period.")
@click.option("--period", help="Month YYYY-MM (with --anchor).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_context
def export(
    ctx: click.Context,
    *,
    violation_id: str | None,
    anchor_id: str | None,
    period: str | None,
    out: Path,
    lang: str,
) -> None:
    """Write a signed bundle (zip): records, transcript, audio clips, listing and ledger snapshots."""
    if bool(violation_id) == bool(anchor_id and period):
        raise click.UsageError("give either --violation ID, or --anchor A with --period P")
    settings = settings_of(ctx)
    month = Period.parse(period, settings.timezone) if period else None
    subject = Subject(violation_id=violation_id, anchor_id=anchor_id, period=month)
    key = load_or_create_key(key_path(settings))
    actor = f"cli:{getpass.getuser()}"
    with open_store(settings) as store:
        cases = collect_cases(store, Scope.everything(), subject, context_s=settings.evidence_context_s)
        bundle = build_bundle(
            cases,
            key,
            subject=subject,
            created_by=actor,
            context_s=settings.evidence_context_s,
            clip_padding_s=settings.clip_padding_s,
            language=lang,
        )
        out.write_bytes(bundle.data)
        mcns = sorted({c.violation["mcn_id"] for c in cases})
        record(store, actor, "evidence.export", subject.describe(), ",".join(mcns), sha256=bundle.sha256)
    click.echo(f"wrote {out}: {bundle.violations} violation(s), sha256 {bundle.sha256}")


@evidence.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trusted public key (PEM); default: this installation's signing key, when there is one.",
)
@click.pass_context
def verify(ctx: click.Context, bundle: Path, public_key: Path | None) -> None:
    """Check a bundle's signature and every file's SHA-256; exit 1 if anything changed."""
    settings = settings_of(ctx)
    trusted = None
    if public_key is not None:
        trusted = load_public(public_key.read_bytes())
    elif key_path(settings).is_file():
        trusted = load_or_create_key(key_path(settings)).public_key()
    result = verify_bundle(bundle, trusted)
    for problem in result.problems:
        click.echo(f"FAIL {problem}")
    if not result.ok:
        click.echo(f"{bundle}: NOT valid ({len(result.problems)} problem(s))")
        sys.exit(1)
    click.echo(f"{bundle}: valid, {result.files} files, {result.subject}")
    origin = {None: "not compared with a trusted key", True: "the trusted key", False: "NOT the trusted key"}
    click.echo(f"signed by key {result.fingerprint} ({origin[result.trusted]})")
    if result.trusted is False:
        sys.exit(1)
