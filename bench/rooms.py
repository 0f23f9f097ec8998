"""Speech claims in real-room conditions: the sample stream clean and degraded, through `analyze`.

    python -m bench.rooms [--rooms clean,fast,music,babble,aac,mp3,live] [--run-on] [--bias]
                          [--tolerance 1.0]

Each room (pipeline/speech/rooms.py: tempo, a music bed, babble, a lossy codec, or all of them) is
rendered from the sample's audio, its timeline and listing times moved with it, and analysed as
`claimwatch analyze` does (the worker's cutting and decoding, the same monitor). ``--run-on`` first
shortens every pause between the sample's utterances to 0.15 s, as an anchor who never stops
talking: no pause ends a speech piece, so pieces run to the 12 s cut and hold several sentences.
``--bias`` decodes each piece after the title and brand of the listing on stage (contextual
biasing, off in the product: docs/speech.md, "Biasing"); run with and without to compare.

Every speech claim violation is scored to the utterance it overlaps most (pipeline/stream/scoring.py):
precision, recall and F1 of (utterance, category), and the share of violations whose span lies
within that utterance give or take the tolerance: as placed now (in the sentence holding the claim)
and, for comparison, as they were placed before word timing (the whole speech piece); and the
character error rate of the whole transcript against the script, and the median and longest speech
piece (seconds) the cutting gave. The clean row is the baseline;
the last line gives the degraded rooms' mean F1 over the clean F1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.config import load_settings
from pipeline.records import StreamInfo, TranscriptSegment, Violation
from pipeline.sample import SAMPLE_DIR, load_sample
from pipeline.speech import models
from pipeline.speech.evaluation import cer
from pipeline.speech.rooms import ROOMS, Room, render, run_on
from pipeline.stream.analyze import analyze
from pipeline.stream.scoring import TOLERANCE_S, SpeechScore, Utterance, score_speech

Retime = Callable[[float], float]  # seconds from the stream's start, before → after


def retimed_listings(source: Path, target: Path, started_at: datetime, retime: Retime) -> Path:
    """The listing events with their times from the stream's start moved by ``retime``."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        offset = (datetime.fromisoformat(event["ts"]) - started_at).total_seconds()
        event["ts"] = (started_at + timedelta(seconds=retime(offset))).isoformat()
        lines.append(json.dumps(event, ensure_ascii=False))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def piecewise(old: list[tuple[float, float]], new: list[tuple[float, float]]) -> Retime:
    """A time inside an old utterance moves with it; one in a pause goes to the next one's start."""
    starts = [s for s, _ in old]

    def retime(t: float) -> float:
        i = bisect_right(starts, t) - 1
        if i < 0:
            return new[0][0] if new else t
        start, end = old[i]
        if t <= end:
            return new[i][0] + (t - start)
        return new[i + 1][0] if i + 1 < len(new) else new[i][1]

    return retime


def as_pieces(violations: list[Violation]) -> list[Violation]:
    """The violations as placed before word timing: each spanning its whole speech piece."""
    return [
        replace(v, offset_s=v.evidence.segment.offset_s, end_offset_s=v.evidence.segment.end_offset_s)
        if v.evidence.segment is not None
        else v
        for v in violations
    ]


@dataclass(frozen=True, slots=True)
class RoomResult:
    """The sample heard in a room: its score, the score with each violation spanning its whole
    piece, the transcript's CER and the seconds `analyze` took."""

    score: SpeechScore
    pieces: SpeechScore
    cer: float
    elapsed_s: float
    pieces_s: tuple[float, float]  # median and longest speech piece (a segment per piece)


def run_room(
    room: Room,
    workdir: Path,
    model: models.LoadedModel,
    tolerance_s: float,
    *,
    gapless: bool = False,
    bias: bool = False,
) -> RoomResult:
    """The sample heard in ``room`` through `analyze` (``bias``: with the stage as context)."""
    sample = load_sample()
    settings = load_settings()
    spans = [(float(s["start"]), float(s["end"])) for s in sample.timeline]
    labels = [frozenset(s["labels"]) for s in sample.timeline]
    audio, moved, retime = sample.audio, spans, (lambda t: t)
    if gapless:
        audio, moved = run_on(sample.audio, workdir, spans)
        retime = piecewise(spans, moved)
    audio, scale = render(audio, workdir, room)
    utterances = [Utterance(s * scale, e * scale, lab) for (s, e), lab in zip(moved, labels, strict=True)]
    listings = retimed_listings(
        sample.listings,
        workdir / f"listings.{room.name}.jsonl",
        sample.started_at,
        lambda t: retime(t) * scale,
    )
    info = StreamInfo(sample.stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
    began = time.monotonic()
    result = analyze(
        settings,
        audio=audio,
        listings=listings,
        ledger=sample.ledger,
        info=info,
        model=model,
        bias_stage=bias,
    )
    elapsed = time.monotonic() - began
    script = "".join(str(s["text"]) for s in sample.timeline)
    return RoomResult(
        score_speech(utterances, result.violations, tolerance_s),
        score_speech(utterances, as_pieces(result.violations), tolerance_s),
        cer("".join(s.text for s in result.segments), script),
        elapsed,
        _piece_lengths(result.segments),
    )


def _piece_lengths(segments: list[TranscriptSegment]) -> tuple[float, float]:
    lengths = [s.end_offset_s - s.offset_s for s in segments] or [0.0]
    return statistics.median(lengths), max(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", default=",".join(ROOMS), help=f"comma-separated, of: {', '.join(ROOMS)}")
    parser.add_argument(
        "--run-on", action="store_true", help="shorten the pauses between utterances to 0.15 s"
    )
    parser.add_argument(
        "--bias", action="store_true", help="decode each piece after the title and brand on stage"
    )
    parser.add_argument(
        "--tolerance", type=float, default=TOLERANCE_S, help="localisation tolerance, seconds"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.rooms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROOMS]
    if unknown:
        parser.error(f"unknown room(s) {', '.join(unknown)}; known: {', '.join(ROOMS)}")
    model = models.load(load_settings())
    speech = "run-on (pauses 0.15 s)" if args.run_on else "as read"
    biasing = ", biased by the stage" if args.bias else ""
    print(
        f"rooms bench: the sample stream ({SAMPLE_DIR.name}, {speech}{biasing}), model {model.label}, "
        f"±{args.tolerance:g} s"
    )
    print(
        f"{'room':8s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'localised':>10s} {'as pieces':>10s}",
        end="",
    )
    print(f" {'CER':>6s} {'pieces s':>10s} {'analyze s':>10s}  conditions")
    scores: dict[str, SpeechScore] = {}
    with tempfile.TemporaryDirectory(prefix="claimwatch-rooms-") as tmp:
        for name in names:
            room = ROOMS[name]
            result = run_room(room, Path(tmp), model, args.tolerance, gapless=args.run_on, bias=args.bias)
            score, pieces = result.score, result.pieces
            scores[name] = score
            print(
                f"{name:8s} {score.precision:9.3f} {score.recall:7.3f} {score.f1:6.3f} "
                f"{score.localised:>4d}/{score.violations:<5d} {pieces.localised:>4d}/{pieces.violations:<5d}"
                f" {result.cer:6.3f} {result.pieces_s[0]:4.1f}/{result.pieces_s[1]:<5.1f}"
                f" {result.elapsed_s:10.1f}  {room.describe()}",
                flush=True,
            )
    localised = sum(s.localised for s in scores.values())
    total = sum(s.violations for s in scores.values())
    print(f"localised in all rooms: {localised}/{total} ({localised / total if total else 1.0:.0%})")
    degraded = [s.f1 for n, s in scores.items() if n != "clean"]
    if "clean" in scores and degraded:
        mean = sum(degraded) / len(degraded)
        clean = scores["clean"].f1
        print(
            f"ratio {mean / clean if clean else 0.0:.3f} (mean degraded F1 {mean:.3f} / clean F1 {clean:.3f})"
        )


if __name__ == "__main__":
    main()
