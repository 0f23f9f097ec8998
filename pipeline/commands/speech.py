"""`claimwatch transcribe` and `claimwatch eval asr`: the speech stage from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from tqdm import tqdm

from pipeline.commands.main import settings_of
from pipeline.config import Settings
from pipeline.jsonl import open_text
from pipeline.records import AudioChunk, TranscriptSegment, to_dict
from pipeline.speech import audio, models
from pipeline.speech.asr import Transcriber, default_options, transcribe_chunks
from pipeline.speech.evaluation import evaluate, overall

_BUDGET_HELP = "Seconds speech may wait to be decoded (default: 28 on CPU, 6 on GPU; see docs/speech.md)."


def _transcriber(settings: Settings, budget_s: float | None) -> Transcriber:
    model = models.load(settings)
    try:
        options = default_options(model.device, budget_s)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--latency-budget") from None
    return Transcriber(model, options)


@click.command()
@click.argument("source", metavar="AUDIO")
@click.option("--out", "out", default="-", show_default=True, help="JSONL file to write ('-': stdout).")
@click.option("--stream-id", default=None, help="Stream id in the segments (default: the file's name).")
@click.option("--latency-budget", "budget_s", type=float, default=None, help=_BUDGET_HELP)
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr (files only).")
@click.pass_context
def transcribe(
    ctx: click.Context,
    source: str,
    *,
    out: str,
    stream_id: str | None,
    budget_s: float | None,
    progress: bool,
) -> None:
    """Transcribe AUDIO (an audio/video file, or a live http/HLS/FLV/RTMP URL) to JSONL segments.

    One line per segment: {"start": s, "end": s, "text": ..., "low_confidence": ..., ...}, times in
    seconds from the start of AUDIO, text in Simplified Chinese. A live URL is transcribed as it
    plays (Ctrl-C ends it after decoding what was heard). Damaged audio is transcribed as far as
    it can be read, times kept on the container's clock; what was lost is reported (exit status 1).
    """
    transcriber = _transcriber(settings_of(ctx), budget_s)
    live = audio.is_url(source)
    name = stream_id or (Path(audio.describe(source)).stem or "live")
    bar = _progress_bar(source, enabled=progress and not live)
    damage = audio.DecodeReport()
    with open_text(out, "w") as handle:
        count = _write(
            handle, _segments(transcriber, audio.read_chunks(source, name, report=damage), name, live, bar)
        )
    bar.close()
    click.echo(f"{count} segments from {audio.describe(source)}", err=True)
    report_damage(ctx, damage)


def report_damage(ctx: click.Context, report: audio.DecodeReport) -> None:
    """Damaged audio on stderr ("7.0 s of audio unreadable at 53.0 s"), then exit status 1."""
    if report.damaged:
        click.echo(f"damaged audio: {report.summary()} (docs/speech.md, Damaged audio)", err=True)
        ctx.exit(1)


def _progress_bar(source: str, *, enabled: bool) -> tqdm[Any]:
    total = audio.duration_s(source) if enabled else None
    return tqdm(total=round(total or 0, 1) or None, unit="s", disable=not enabled, leave=False)


def _segments(
    transcriber: Transcriber, chunks: Iterator[AudioChunk], name: str, live: bool, bar: tqdm[Any]
) -> Iterator[TranscriptSegment]:
    def counted() -> Iterator[Any]:
        for chunk in chunks:
            room = (
                bar.total - bar.n if bar.total else chunk.duration_s
            )  # a file may run past what it declares
            bar.update(round(min(chunk.duration_s, max(room, 0.0)), 3))
            yield chunk

    try:
        yield from transcribe_chunks(transcriber, counted(), live=live)
    except KeyboardInterrupt:
        yield from transcriber.flush(name)


def _write(handle: IO[str], segments: Iterator[TranscriptSegment]) -> int:
    count = 0
    for segment in segments:
        line = {"start": segment.offset_s, "end": segment.end_offset_s, **to_dict(segment)}
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        handle.flush()
        count += 1
    return count


@click.command(name="asr")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of audio files with references.jsonl ({'file', 'text'} per line).",
)
@click.option("--latency-budget", "budget_s", type=float, default=None, help=_BUDGET_HELP)
@click.option("--out", "out", default=None, help="Also write the per-file results as JSONL here.")
@click.pass_context
def eval_asr(ctx: click.Context, data_dir: Path, budget_s: float | None, out: str | None) -> None:
    """Character error rate of the speech recogniser on DIR's reference transcripts."""
    transcriber = _transcriber(settings_of(ctx), budget_s)

    def heard(path: Path) -> str:
        chunks = audio.read_chunks(path, path.name)
        return "".join(s.text for s in transcribe_chunks(transcriber, chunks))

    scores = evaluate(data_dir, heard)
    for s in scores:
        click.echo(f"{s.cer:6.3f}  {s.file}  {s.hypothesis}")
    chars = sum(s.length for s in scores)
    click.echo(f"CER {overall(scores):.3f} over {len(scores)} files ({chars} reference characters)")
    if out:
        with open_text(out, "w") as handle:
            for s in scores:
                row = {
                    "file": s.file,
                    "cer": round(s.cer, 4),
                    "reference": s.reference,
                    "hypothesis": s.hypothesis,
                }
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
