"""``claimwatch detect`` (DESIGN.md §3.1) and ``claimwatch eval claims``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from pipeline.claims.detector import Detector, Source, load_detector
from pipeline.claims.evaluation import (
    SOURCES,
    Example,
    Finds,
    data_files,
    evaluate,
    format_comparison,
    format_report,
    read_examples,
)
from pipeline.commands.main import settings_of
from pipeline.errors import RecordError
from pipeline.jsonl import read_records, write_objects
from pipeline.records import Claim

PROGRESS_FROM = 1000  # lines: shorter inputs finish before a progress bar would help
_CONTRACT_FIELDS = ("category", "term", "start", "end", "severity", "rule_id", "legal_basis")
_lexicons_option = click.option(
    "--lexicons",
    "lexicon_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Lexicon directory (default: the lexicon_dir setting).",
)


def _detector(ctx: click.Context, lexicon_dir: Path | None) -> Detector:
    return load_detector(lexicon_dir or settings_of(ctx).lexicon_dir)


@click.command()
@click.option(
    "--in",
    "in_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help='JSONL input, one {"id", "text"} per line ("-": stdin).',
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, writable=True),
    help='JSONL output, one {"id", "claims"} per input line, in order ("-": stdout).',
)
@click.option(
    "--source",
    type=click.Choice(["speech", "listing"]),
    default="speech",
    show_default=True,
    help="What the texts are, for lines without a `source` field (speech tolerates ASR homophones).",
)
@click.option("--full", is_flag=True, help="Also write lexicon_version, rewrite and requires per claim.")
@_lexicons_option
@click.pass_context
def detect(
    ctx: click.Context, *, in_path: str, out_path: str, source: Source, full: bool, lexicon_dir: Path | None
) -> None:
    """Find claims in texts: {"id", "text"} lines in, {"id", "claims"} lines out (DESIGN.md §3.1).

    A malformed line is reported on stderr with its file, line and field and left out; the rest
    is processed, and the exit status is 1 if any line was malformed.
    """
    detector = _detector(ctx, lexicon_dir)
    bad: list[RecordError] = []
    lines = read_records(in_path, _parse_line)
    with _progress(in_path, out_path) as bar:
        write_objects(out_path, _results(detector, lines, source=source, full=full, bad=bad, bar=bar))
    _report(bad)


def _parse_line(obj: Mapping[str, Any]) -> tuple[str, str, Source | None]:
    ident, text, source = _string(obj, "id"), _string(obj, "text"), obj.get("source")
    if source is not None and source not in SOURCES:
        raise RecordError(f"{source!r} is not one of {', '.join(SOURCES)}", field="source")
    return ident, text, SOURCES[source] if source is not None else None


def _string(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise RecordError("is required" if value is None else "must be a string", field=name)
    return value


def _results(
    detector: Detector,
    lines: Iterator[tuple[int, tuple[str, str, Source | None] | RecordError]],
    *,
    source: Source,
    full: bool,
    bad: list[RecordError],
    bar: Any,
) -> Iterator[dict[str, Any]]:
    for _, parsed in lines:
        bar.update(1)
        if isinstance(parsed, RecordError):
            click.echo(f"error: {parsed}", err=True)
            bad.append(parsed)
            continue
        ident, text, own_source = parsed
        claims = detector.detect(text, source=own_source or source)
        yield {"id": ident, "claims": [_claim_json(c, full) for c in claims]}


def _claim_json(claim: Claim, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(claim, name) for name in _CONTRACT_FIELDS}
    if full:
        out["lexicon_version"] = claim.lexicon_version
        out["rewrite"] = claim.rewrite
        out["requires"] = list(claim.requires)
    return out


def _progress(in_path: str, out_path: str) -> Any:
    """A progress bar on stderr when writing to a file from a long (or unknown-length) input."""
    total = None if in_path == "-" else _count_lines(Path(in_path))
    show = out_path != "-" and (total is None or total >= PROGRESS_FROM)
    return tqdm(total=total, disable=not show, unit=" lines", file=sys.stderr, mininterval=0.5)


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return None  # reading it properly will report the problem


def _report(bad: list[RecordError]) -> None:
    if bad:
        click.echo(f"{len(bad)} malformed line(s) left out", err=True)
        sys.exit(1)


@click.command("claims")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, allow_dash=True),
    help='Labelled JSONL, or a directory of them: {"id", "text", "labels", "source"?, "kind"?, "part"?}.',
)
@click.option(
    "--part",
    type=click.Choice(["dev", "heldout", "all"]),
    default="all",
    show_default=True,
    help="Of a split corpus (tests/data/real), only the development or the held-out lines.",
)
@click.option(
    "--learned",
    "training",
    multiple=True,
    type=click.Path(exists=True),
    help="Also measure the rules with the learned model, trained on these labelled files or directories "
    "(never on held-out lines, nor on lines of the part being measured).",
)
@click.option("--errors", default=0, show_default=True, help="Also list up to N utterances it got wrong.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--cv",
    "cv_folds",
    type=click.IntRange(min=2),
    help="Instead: a leave-sources-out cross-validation in K folds of the rules with the learned "
    "policies (docs/claims.md), on the lines of --part (never held-out ones).",
)
@click.option(
    "--cv-features",
    multiple=True,
    type=click.Choice(["char", "char+word", "char+rule", "char+word+rule"]),
    help="With --cv: the learned model's features (default: char; repeat for several).",
)
@_lexicons_option
@click.pass_context
def eval_claims(
    ctx: click.Context,
    *,
    data: str,
    part: str,
    training: tuple[str, ...],
    errors: int,
    as_json: bool,
    cv_folds: int | None,
    cv_features: tuple[str, ...],
    lexicon_dir: Path | None,
) -> None:
    """Precision, recall and F1 per category, macro-F1, binary F1, no-claim lines flagged, confusions,
    and the same per source kind (with --learned: beside the rules with the learned model; with
    --cv: a leave-sources-out cross-validation of the learned policies instead)."""
    detector = _detector(ctx, lexicon_dir)
    bad: list[RecordError] = []
    if cv_folds is not None:
        _cross_validate(
            detector, data, part, k=cv_folds, features=cv_features or ("char",), as_json=as_json, bad=bad
        )
        _report(bad)
        return
    examples = [e for e in _examples(data, bad) if part in ("all", e.part)]
    report = evaluate(detector, examples)
    learned = _with_learned(detector, training, part, bad)
    both = evaluate(learned, examples) if learned else None
    if as_json:
        figures = {"lexicon_version": detector.version, **report.summary()}
        if both is not None:
            figures["with_learned"] = both.summary()
        click.echo(json.dumps(figures, ensure_ascii=False))
    else:
        click.echo(f"lexicon {detector.version}, {data}\n")
        click.echo(format_report(report, errors=errors))
        if both is not None:
            click.echo("\n" + format_comparison(report, both))
    _report(bad)


def _cross_validate(
    detector: Detector,
    data: str,
    part: str,
    *,
    k: int,
    features: tuple[str, ...],
    as_json: bool,
    bad: list[RecordError],
) -> None:
    """Print the cross-validation table (or its JSON) of the lines of ``part``, never held-out ones."""
    from pipeline.claims.crossval import cross_validate, format_cross_validation, observe

    if part == "heldout":
        raise click.UsageError("--cv trains on the lines it measures: never on the held-out part")
    examples = [e for e in _examples(data, bad) if part in ("all", e.part) and e.part != "heldout"]
    if not examples:
        raise click.UsageError("--cv: no labelled lines to cross-validate")
    observations = [observe(detector, e) for e in examples]
    click.echo(f"lexicon {detector.version}, {data}: {len(examples)} lines, {k} folds", err=True)
    results = [
        cross_validate(observations, features=f, k=k, progress=lambda m: click.echo(m, err=True))
        for f in features
    ]
    if as_json:
        figures = {
            "lexicon_version": detector.version,
            "folds": k,
            "results": [
                {"features": cv.features, "policy": name, "chosen": cv.chosen[name], **report.summary()}
                for cv in results
                for name, report in cv.reports.items()
            ],
        }
        click.echo(json.dumps(figures, ensure_ascii=False))
    else:
        click.echo(format_cross_validation(results))


def _with_learned(
    detector: Detector, training: tuple[str, ...], part: str, bad: list[RecordError]
) -> Finds | None:
    """The rules with a learned model trained on ``training`` (never on lines of ``part``)."""
    if not training:
        return None
    from pipeline.claims.learned import WithLearned, train

    # the held-out part of a split corpus is only ever measured, never learned from
    lines = [e for path in training for e in _examples(path, bad) if e.part not in ("heldout", part)]
    if not lines:
        raise click.UsageError("--learned: no labelled lines to train on")
    click.echo(f"learned model: trained on {len(lines)} lines", err=True)
    model = train([e.text for e in lines], [e.labels for e in lines], normalise=detector.normalise_text)
    return WithLearned(detector, model)


def _examples(data: str, bad: list[RecordError]) -> Iterator[Example]:
    for path in [data] if data == "-" else data_files(data):
        for _, example in read_examples(path):
            if isinstance(example, RecordError):
                click.echo(f"error: {example}", err=True)
                bad.append(example)
            else:
                yield example
