"""`claimwatch card import|check|approve|show`: selling-point cards reviewed before the room opens."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from pipeline.checks.cards import CardReview, CardReviewer
from pipeline.commands.main import settings_of
from pipeline.config import Settings
from pipeline.errors import RecordError
from pipeline.ledger.cards import CardRead, read_cards
from pipeline.records import Card, LedgerEntry
from pipeline.reporting import audit
from pipeline.warehouse import Store, open_store
from pipeline.warehouse.cards import approve_card, card_versions, latest_cards, save_cards
from pipeline.warehouse.ledger import current_ledger


@click.group()
def card() -> None:
    """Selling-point cards (卖点卡): import, review against the rules, approve."""


@card.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mcn-id", required=True, help="The MCN whose cards these are.")
@click.option("--dry-run", is_flag=True, help="Validate and review; write nothing to the warehouse.")
@click.pass_context
def import_(ctx: click.Context, *, file: Path, mcn_id: str, dry_run: bool) -> None:
    """Read the cards in FILE (XLSX/CSV, DOCX, Markdown or text) and store each changed one as a
    new draft version, then print its review.

    A card must name a product on the MCN's ledger. Each problem is reported with file, line and
    field; the other cards are imported. Exit status: 0 clean, 1 when any line was bad.
    """
    settings = settings_of(ctx)
    with open_store(settings) as store:
        ledger = {e.product_id: e for e in current_ledger(store, mcn_id)}
        read = _on_ledger(read_cards(file, mcn_id=mcn_id, max_bytes=settings.ledger_max_bytes), ledger)
        for error in read.errors:
            click.echo(f"error: {error}", err=True)
        click.echo(f"{read.source}: {len(read.cards)} card(s) read, {len(read.errors)} error(s)")
        cards = list(read.cards)
        if not dry_run and cards:
            saved = save_cards(store, cards, imported_at=datetime.now(UTC))
            for c in saved.unchanged:
                click.echo(f"{c.product_id}: unchanged, version {c.version} ({c.status})")
            cards = list(saved.written)
        for c in cards:
            click.echo(f"{c.product_id}: version {c.version or '-'} (draft)")
            _print_review(_review(settings, c, ledger.get(c.product_id)))
    if read.errors:
        sys.exit(1)


def _on_ledger(read: CardRead, ledger: dict[str, LedgerEntry]) -> CardRead:
    """The cards whose product is on the ledger; an error (file, line, 商品编号) for the others."""
    kept = tuple(c for c in read.cards if c.product_id in ledger)
    missing = [
        RecordError(
            f"{c.product_id!r} is not on the ledger of {c.mcn_id} (import the ledger row first)",
            field="商品编号",
            source=read.source,
            line=read.first_lines.get(c.product_id),
        )
        for c in read.cards
        if c.product_id not in ledger
    ]
    return CardRead(read.source, kept, (*read.errors, *missing), read.first_lines)


@card.command()
@click.option("--mcn-id", required=True, help="The MCN whose cards to review.")
@click.option("--product-id", help="Only this product (default: every product's newest card).")
@click.option("--version", type=int, help="This version of --product-id's card (default: the newest).")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="Review the cards in this file, not the stored ones (nothing is written).")  # fmt: skip
@click.option("--jsonl", is_flag=True, help="One JSON object per finding instead of text.")
@click.pass_context
def check(
    ctx: click.Context, *, mcn_id: str, product_id: str | None, version: int | None, file: Path | None,
    jsonl: bool,
) -> None:  # fmt: skip
    """Review cards line by line: each finding with its legal basis and a compliant rewrite.

    Efficacy the product is not registered for, health functions beyond a filing and medical claims
    on non-medicines are high findings. Exit status: 0 no high finding, 1 any high finding.
    """
    settings = settings_of(ctx)
    with open_store(settings) as store:
        ledger = {e.product_id: e for e in current_ledger(store, mcn_id)}
        if file is not None:
            read = read_cards(file, mcn_id=mcn_id, max_bytes=settings.ledger_max_bytes)
            for error in read.errors:
                click.echo(f"error: {error}", err=True)
            cards = list(read.cards)
        else:
            cards = _stored(store, mcn_id, product_id, version)
    reviews = [_review(settings, c, ledger.get(c.product_id)) for c in cards]
    for review in reviews:
        if jsonl:
            for finding in review.findings:
                row = {"mcn_id": mcn_id, "product_id": review.card.product_id, "version": review.card.version}
                click.echo(json.dumps({**row, **finding.as_dict()}, ensure_ascii=False))
        else:
            click.echo(
                f"{review.card.product_id} version {review.card.version or '-'} ({review.card.status})"
            )
            _print_review(review)
    if any(r.high for r in reviews):
        sys.exit(1)


@card.command()
@click.option("--mcn-id", required=True, help="The card's MCN.")
@click.option("--product-id", required=True, help="The card's product (ledger product_id).")
@click.option("--version", type=int, help="The version to approve (default: the newest).")
@click.option("--by", "by", required=True,
              help="The approving officer: a console user, role mcn_officer of this MCN.")  # fmt: skip
@click.option("--override-reason", default="",
              help="Why a card with high findings is approved all the same (audited).")  # fmt: skip
@click.pass_context
def approve(
    ctx: click.Context, *, mcn_id: str, product_id: str, version: int | None, by: str, override_reason: str
) -> None:
    """Approve a card version (draft → approved, with who and when), audited.

    A card with high findings is refused unless --override-reason says why. From then on speech
    about the product is held against this card (a claim not on it is off-card).
    """
    settings = settings_of(ctx)
    with open_store(settings) as store:
        _check_officer(store, by, mcn_id)
        (target,) = _stored(store, mcn_id, product_id, version)
        entry = {e.product_id: e for e in current_ledger(store, mcn_id)}.get(product_id)
        review = _review(settings, target, entry)
        if target.status == "approved":
            click.echo(f"{product_id} version {target.version} is already approved by {target.approved_by}")
            return
        if review.high and not override_reason.strip():
            _print_review(review)
            raise click.ClickException(
                f"{len(review.high)} high finding(s): fix the card and import it again, or approve with "
                "--override-reason"
            )
        done = approve_card(
            store, target, approved_by=by, approved_at=datetime.now(UTC),
            override_reason=override_reason.strip(), findings=[f.as_dict() for f in review.findings],
        )  # fmt: skip
        audit.record(
            store, by, "card.approve", f"card:{mcn_id}/{product_id}/v{done.version}", mcn_id,
            override_reason=done.override_reason, findings=len(review.findings), high=len(review.high),
        )  # fmt: skip
    click.echo(
        f"{product_id} version {done.version} approved by {by} at {done.approved_at:%Y-%m-%d %H:%M} UTC"
    )


@card.command()
@click.option("--mcn-id", required=True, help="The MCN whose cards to list.")
@click.option("--product-id", help="Every version of this product's card (default: each product's newest).")
@click.pass_context
def show(ctx: click.Context, *, mcn_id: str, product_id: str | None) -> None:
    """List cards with version, status and approval (the history of one product with --product-id)."""
    with open_store(settings_of(ctx)) as store:
        if product_id:
            cards = sorted(card_versions(store, mcn_id, product_id), key=lambda c: c.version)
        else:
            cards = latest_cards(store, mcn_id)
    for c in cards:
        approval = f" by {c.approved_by} at {c.approved_at:%Y-%m-%d %H:%M}" if c.approved_at else ""
        override = f" (override: {c.override_reason})" if c.override_reason else ""
        click.echo(
            f"{c.product_id} v{c.version} {c.status}{approval}{override}: {len(c.points)} selling points"
        )


def _check_officer(store: Store, username: str, mcn_id: str) -> None:
    from pipeline.console.users import get_user

    user = get_user(store, username)
    if user is None or user.disabled or user.role != "mcn_officer" or user.mcn_id != mcn_id:
        raise click.ClickException(
            f"{username!r} is no enabled mcn_officer of {mcn_id} (see claimwatch users)"
        )


def _stored(store: Store, mcn_id: str, product_id: str | None, version: int | None) -> list[Card]:
    if product_id is None:
        return latest_cards(store, mcn_id)
    versions = sorted(card_versions(store, mcn_id, product_id), key=lambda c: c.version)
    chosen = [c for c in versions if version is None or c.version == version][-1:]
    if not chosen:
        raise click.ClickException(
            f"no card of {mcn_id}/{product_id}" + (f" version {version}" if version else "")
        )
    return chosen


def _review(settings: Settings, card: Card, entry: LedgerEntry | None) -> CardReview:
    return CardReviewer.load(settings.lexicon_dir).review(card, entry, at=datetime.now(UTC))


def _print_review(review: CardReview) -> None:
    for point in review.card.points:
        findings = review.at(point.line)
        mark = "✗" if any(f.severity == "high" for f in findings) else ("!" if findings else "✓")
        click.echo(f"  {mark} line {point.line}: {point.text}")
        for f in findings:
            click.echo(f"      {f.severity} {f.check} {f.term!r}: {f.reason}")
            click.echo(f"      legal basis: {f.legal_basis}")
            if f.rewrite:
                click.echo(f"      rewrite: {f.rewrite}")
    high = len(review.high)
    click.echo(
        f"  {len(review.findings)} finding(s), {high} high"
        + (": approval needs an override reason" if high else "")
    )
