"""`claimwatch score`: surveillance scores of a month, explained line by line."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from pipeline.commands.main import settings_of
from pipeline.reporting.categories import Language
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.scoring import LEVELS, Level, Score, compute_scores, explain
from pipeline.reporting.scoring_rules import ScoringRules, load_rules
from pipeline.reporting.selection import SelectionFigures, describe_selection, selection_figures
from pipeline.warehouse import open_store


@click.command()
@click.option("--period", required=True, help="Month, YYYY-MM, in the configured time zone.")
@click.option("--mcn", "mcn_id", help="Only this MCN (and its anchors).")
@click.option("--anchor", "anchor_id", help="Only this anchor.")
@click.option("--level", type=click.Choice(["anchor", "mcn", "both"]), default="both", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per score, with its items.")
@click.pass_context
def score(
    ctx: click.Context,
    *,
    period: str,
    mcn_id: str | None,
    anchor_id: str | None,
    level: str,
    lang: Language,
    as_json: bool,
) -> None:
    """Surveillance scores (0-100) and grades per anchor and per MCN for a month, each explained."""
    settings = settings_of(ctx)
    rules = load_rules(settings.scoring_file)
    month = Period.parse(period, settings.timezone)
    levels: tuple[Level, ...] = ("anchor",) if anchor_id else LEVELS if level == "both" else (level,)  # type: ignore[assignment]
    with open_store(settings) as store:
        for lvl in levels:
            found = compute_scores(
                store, rules, lvl, month, Scope.everything().narrow(mcn_id), subject=anchor_id
            )
            for s in found:
                selection = selection_figures(store, s.mcn_id, month) if lvl == "mcn" else None
                _print(s, rules, lang, as_json, selection)
            if not found and not as_json:
                click.echo(f"no {lvl} activity in {month.label}")


def _print(
    s: Score, rules: ScoringRules, lang: Language, as_json: bool, selection: SelectionFigures | None
) -> None:
    if as_json:
        extra = {"selection": selection.as_dict()} if selection else {}
        click.echo(json.dumps({**asdict(s), "provisional": s.provisional, **extra}, ensure_ascii=False))
        return
    note = " (provisional: a stream is still live)" if s.provisional else ""
    click.echo(f"{s.level} {s.subject} [{s.mcn_id}] {s.period}: {s.score:.1f} {s.grade}{note}")
    for line in explain(s, rules, lang):
        click.echo(f"    {line}")
    for line in describe_selection(selection, lang) if selection else ():
        click.echo(f"    {line}")
