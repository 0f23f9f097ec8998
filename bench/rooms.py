"""Speech claims in real-room conditions: the sample stream clean and degraded, through `analyze`.

    python -m bench.rooms [--rooms clean,fast,music,babble,aac,mp3,live] [--tolerance 1.0]

Each room (pipeline/speech/rooms.py: tempo, a music bed, babble, a lossy codec, or all of them) is
rendered from the sample's audio, its timeline and listing times scaled by the tempo, and analysed
as `claimwatch analyze` does (the worker's cutting and decoding, the same monitor). Every speech
claim violation is scored to the utterance it overlaps most (pipeline/stream/scoring.py): precision,
recall and F1 of (utterance, category), and the share of violations whose start and end lie within
the tolerance of that utterance's. The clean row is the baseline; the last line gives the degraded
rooms' mean F1 over the clean F1.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

from pipeline.config import load_settings
from pipeline.records import StreamInfo
from pipeline.sample import SAMPLE_DIR, load_sample
from pipeline.speech import models
from pipeline.speech.rooms import ROOMS, Room, render
from pipeline.stream.analyze import analyze
from pipeline.stream.scoring import TOLERANCE_S, SpeechScore, score_speech, utterances_of


def scaled_listings(source: Path, target: Path, started_at: datetime, scale: float) -> Path:
    """The listing events with their times from the stream's start multiplied by ``scale``."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        ts = datetime.fromisoformat(event["ts"])
        event["ts"] = (started_at + (ts - started_at) * scale).isoformat()
        lines.append(json.dumps(event, ensure_ascii=False))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def run_room(
    room: Room, workdir: Path, model: models.LoadedModel, tolerance_s: float
) -> tuple[SpeechScore, float]:
    """The sample heard in ``room``: its score and the seconds `analyze` took."""
    sample = load_sample()
    settings = load_settings()
    audio, scale = render(sample.audio, workdir, room)
    listings = scaled_listings(
        sample.listings, workdir / f"listings.{room.name}.jsonl", sample.started_at, scale
    )
    info = StreamInfo(sample.stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
    began = time.monotonic()
    result = analyze(settings, audio=audio, listings=listings, ledger=sample.ledger, info=info, model=model)
    elapsed = time.monotonic() - began
    timeline = json.loads((SAMPLE_DIR / "timeline.json").read_text(encoding="utf-8"))
    return score_speech(utterances_of(timeline, scale), result.violations, tolerance_s), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", default=",".join(ROOMS), help=f"comma-separated, of: {', '.join(ROOMS)}")
    parser.add_argument(
        "--tolerance", type=float, default=TOLERANCE_S, help="localisation tolerance, seconds"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.rooms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROOMS]
    if unknown:
        parser.error(f"unknown room(s) {', '.join(unknown)}; known: {', '.join(ROOMS)}")
    model = models.load(load_settings())
    print(
        f"rooms bench: the sample stream ({SAMPLE_DIR.name}), model {model.label}, "
        f"tolerance ±{args.tolerance:g} s"
    )
    print(
        f"{'room':8s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'localised':>10s} {'analyze s':>10s}"
        "  conditions"
    )
    scores: dict[str, SpeechScore] = {}
    with tempfile.TemporaryDirectory(prefix="claimwatch-rooms-") as tmp:
        for name in names:
            room = ROOMS[name]
            score, elapsed = run_room(room, Path(tmp), model, args.tolerance)
            scores[name] = score
            print(
                f"{name:8s} {score.precision:9.3f} {score.recall:7.3f} {score.f1:6.3f} "
                f"{score.localised:>4d}/{score.violations:<5d} {elapsed:10.1f}  {room.describe()}",
                flush=True,
            )
    degraded = [s.f1 for n, s in scores.items() if n != "clean"]
    if "clean" in scores and degraded:
        mean = sum(degraded) / len(degraded)
        clean = scores["clean"].f1
        print(
            f"ratio {mean / clean if clean else 0.0:.3f} (mean degraded F1 {mean:.3f} / clean F1 {clean:.3f})"
        )


if __name__ == "__main__":
    main()
