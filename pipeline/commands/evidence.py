"""`claimwatch evidence export|verify`: signed evidence bundles."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from pipeline.commands.main import settings_of
from pipeline.config import Settings
from pipeline.reporting.audit import record
from pipeline.reporting.evidence import Subject, build_bundle, collect_cases, verify_bundle
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.signing import (
    TrustedKeys,
    installation_keys,
    key_path,
    load_or_create_key,
    load_public,
    public_pem,
    published_keys,
    retired_dir,
    rotate_key,
)
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
            timezone=settings.timezone,
        )
        out.write_bytes(bundle.data)
        mcns = sorted({c.violation["mcn_id"] for c in cases})
        record(store, actor, "evidence.export", subject.describe(), ",".join(mcns), sha256=bundle.sha256)
    click.echo(f"wrote {out}: {bundle.violations} violation(s), sha256 {bundle.sha256}")


@evidence.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    "key_ids",
    multiple=True,
    metavar="KEY_ID",
    help="A key id to trust (32 hex digits, as the certification body publishes it); repeatable.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trusted public key (PEM); repeatable.",
)
@click.pass_context
def verify(ctx: click.Context, bundle: Path, key_ids: tuple[str, ...], public_keys: tuple[Path, ...]) -> None:
    """Check a bundle: signature, every file's SHA-256, and that a trusted key signed it.

    Trusted keys: --trust, --public-key, CLAIMWATCH_EVIDENCE_TRUSTED_KEYS_FILE, and this
    installation's own keys. Exit 0: verified; 1: not valid, or signed by an untrusted key;
    3: consistent, but there was no trusted key to check who signed it.
    """
    settings = settings_of(ctx)
    result = verify_bundle(bundle, trusted_keys(settings, key_ids, public_keys))
    for problem in result.problems:
        click.echo(f"FAIL {problem}")
    if result.problems:
        click.echo(f"{bundle}: NOT valid ({len(result.problems)} problem(s))")
        sys.exit(1)
    if result.ok:
        click.echo(f"{bundle}: verified, {result.files} files, {result.subject}")
        click.echo(f"signed by key {result.fingerprint} (trusted: {result.trusted_as})")
        return
    verdict = "NOT signed by a trusted key" if result.trusted is False else "no trusted key given"
    click.echo(f"{bundle}: NOT verified ({verdict}), {result.subject}")
    for line in result.checked():
        click.echo(f"  checked: {line}")
    for line in result.not_checked():
        click.echo(f"  not checked: {line}")
    sys.exit(1 if result.trusted is False else 3)


def trusted_keys(settings: Settings, key_ids: Sequence[str], public_keys: Sequence[Path]) -> TrustedKeys:
    """The keys a verification trusts: those named, the pinned file's and this installation's."""
    named = TrustedKeys.ids(key_ids, "--trust").joined(
        *(TrustedKeys.of([load_public(p.read_bytes())], str(p)) for p in public_keys)
    )
    pinned = (
        TrustedKeys.read(settings.evidence_trusted_keys_file)
        if settings.evidence_trusted_keys_file
        else TrustedKeys()
    )
    return named.joined(pinned, installation_keys(key_path(settings)))


@evidence.command()
@click.option("--pem", is_flag=True, help="Print the current public key (PEM) instead of the key ids.")
@click.option("--rotate", is_flag=True, help="Retire the current signing key and create a new one.")
@click.pass_context
def key(ctx: click.Context, *, pem: bool, rotate: bool) -> None:
    """Print this installation's signing key ids (a trust file to publish), or rotate the key."""
    path = key_path(settings_of(ctx))
    if rotate:
        old, new = rotate_key(path)
        click.echo(f"retired key {old} (its public key kept in {retired_dir(path)}); signing with {new}")
        click.echo("publish the new key id beside the old one: auditors pin both")
        return
    if pem:
        click.echo(public_pem(load_or_create_key(path)).decode(), nl=False)
        return
    click.echo(published_keys(path), nl=False)
