"""Speech throughput: bare faster-whisper against ClaimWatch's streaming transcriber, one run.

    python -m bench.asr [--audio FILE] [--repeat 2] [--rounds 3] [--streams 6] [--bias TEXT]

The audio (default: the sample stream, repeated ``--repeat`` times into one recording) goes

* through bare faster-whisper: ``BatchedInferencePipeline.transcribe`` on the whole file, the
  fastest way faster-whisper offers, with the same model object, threads, language, beam size,
  batch size and timestamp mode as the transcriber;
* through ClaimWatch as the live pipeline runs it: ``pipeline.speech.audio`` decodes it,
  ``pipeline.speech.pieces`` cuts a piece per utterance at VAD silences (what ingest publishes), and
  the worker's transcriber decodes each piece in an encoder window sized to it, pieces batched by window size
  (``worker_options``).

With biasing (``--bias``: by default, for the sample, the titles and brands of its listings; ``--bias ''``
skips it) both sides run a second time shown that text: faster-whisper as its ``hotwords``, ClaimWatch
as its decoder prompt (``TranscriberOptions.prompt``, the same tokens after <|startofprev|>), and the
CER of each side with and without it is printed (docs/speech.md, "Biasing").

Rounds alternate the sides; the best of each counts. Throughput is measured in CPU time (all threads
of this process): on the shared 2-core development machine other sessions' work swings wall-clock
times by 2x from one run to the next, while the CPU seconds a transcription costs stay within a few
per cent. Wall-clock figures are printed too. Then ``--streams`` copies of the original audio are
fed as concurrent streams, piece by piece in turn, and decoded in batches across streams: the
aggregate throughput says how many live streams one worker keeps up with. The latency line says how
long a piece takes to decode once cut (bench/pipeline.py measures latency end to end).

The last line is ``ratio <pipeline throughput / bare throughput>`` (target: at least 0.95).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from faster_whisper import BatchedInferencePipeline

from pipeline.config import load_settings
from pipeline.records import AudioChunk
from pipeline.sample import SAMPLE_DIR
from pipeline.speech import audio, models
from pipeline.speech.asr import Transcriber, TranscriberOptions, worker_options
from pipeline.speech.evaluation import cer
from pipeline.speech.pieces import speech_chunks

SAMPLE = SAMPLE_DIR


def main() -> None:
    args = _arguments()
    settings = load_settings()
    model = models.load(settings)
    options = worker_options(model.device)
    print(f"model {model.label} on {model.device}, threads {settings.asr_threads or os.cpu_count()}")
    print(
        f"options: beam {options.beam_size}, batch {options.batch_size}, "
        f"encoder window per piece: its length rounded up to {options.context_step_s} s, "
        f"at least {options.min_context_s} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = _repeated(args.audio, args.repeat, Path(tmp) / "bench.wav")
        seconds = audio.duration_s(path) or 0.0
        reference = _reference(args.audio, args.repeat)
        print(f"audio {args.audio} x{args.repeat}: {seconds:.1f} s")
        _warm_up(model, options, path)
        bias = _bias_text(args.audio) if args.bias == "auto" else args.bias
        if bias:
            print(f"biasing text: {bias}")
        bare, ours = _compare(model, options, path, args.rounds, reference, bias=bias)
    if args.streams:
        _multi_stream(model, options, args.audio, args.streams)
    _latency(model, options, args.audio)
    for name, cost in (("bare faster-whisper", bare), ("claimwatch streaming", ours)):
        print(
            f"{name}: RTF {cost.wall_s / seconds:.4f} ({seconds / cost.wall_s:.2f}x real time, best wall), "
            f"{cost.cpu_s / seconds:.4f} CPU-s per audio-s"
        )
    print(f"wall-clock ratio {bare.wall_s / ours.wall_s:.3f} (best of {args.rounds} rounds each)")
    print(f"ratio {bare.cpu_s / ours.cpu_s:.3f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, default=SAMPLE / "stream.ogg")
    parser.add_argument("--repeat", type=int, default=2, help="times the audio is repeated")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each side")
    parser.add_argument("--streams", type=int, default=6, help="concurrent streams (0: skip)")
    parser.add_argument(
        "--bias",
        default="auto",
        help="biasing text for the with-biasing rows ('auto': the sample's listing titles; '': none)",
    )
    return parser.parse_args()


def _repeated(source: Path, times: int, out: Path) -> Path:
    pcm = np.concatenate(list(audio.decode_pcm(source)))
    with wave.open(str(out), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(audio.SAMPLE_RATE_HZ)
        for _ in range(times):
            handle.writeframes(pcm.tobytes())
    return out


def _reference(source: Path, times: int) -> str | None:
    timeline = source.with_name("timeline.json")
    if not timeline.is_file():
        return None
    segments = json.loads(timeline.read_text(encoding="utf-8"))["segments"]
    return "".join(s["text"] for s in segments) * times


def _bias_text(source: Path) -> str:
    """The titles and brands of the listings beside the audio (the sample's), if any."""
    listings = source.with_name("listings.jsonl")
    if not listings.is_file():
        return ""
    names: dict[str, None] = {}
    for line in listings.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        names[f"{event['title']} {event['brand']}"] = None
    return "，".join(names)


def _warm_up(model: models.LoadedModel, options: TranscriberOptions, path: Path) -> None:
    transcriber = Transcriber(model, options)
    for chunk in list(_pieces(path, "warm-up"))[:3]:
        transcriber.add_piece(chunk)
    transcriber.drain()


def _pieces(path: Path, stream_id: str) -> Iterator[AudioChunk]:
    """What ingest publishes for a stream: a chunk per speech piece (the final marker left out)."""
    return (chunk for chunk in speech_chunks(audio.decode_pcm(path), stream_id) if not chunk.final)


@dataclass(frozen=True)
class Cost:
    """What one run took: wall-clock seconds and CPU seconds (all threads of this process)."""

    wall_s: float
    cpu_s: float


def _compare(
    model: models.LoadedModel,
    options: TranscriberOptions,
    path: Path,
    rounds: int,
    reference: str | None,
    *,
    bias: str = "",
) -> tuple[Cost, Cost]:
    """The best cost of each side unbiased (and, with ``bias``, each side biased, reported)."""
    sides: list[tuple[str, Callable[[], str]]] = [
        ("bare", partial(_bare, model, options, path)),
        ("claimwatch", partial(_ours, model, options, path)),
    ]
    if bias:
        sides += [
            ("bare + hotwords", partial(_bare, model, options, path, hotwords=bias)),
            ("claimwatch + prompt", partial(_ours, model, replace(options, prompt=bias), path)),
        ]
    runs: dict[str, list[Cost]] = {name: [] for name, _ in sides}
    for _ in range(rounds):
        for name, run in sides:
            cost, text = _measured(run)
            runs[name].append(cost)
            _report(name, cost, text, reference)
    return _best(runs["bare"]), _best(runs["claimwatch"])


def _best(costs: list[Cost]) -> Cost:
    return Cost(min(c.wall_s for c in costs), min(c.cpu_s for c in costs))


def _measured(run: Callable[[], str]) -> tuple[Cost, str]:
    wall, cpu = time.perf_counter(), time.process_time()
    text = run()
    return Cost(time.perf_counter() - wall, time.process_time() - cpu), text


def _report(name: str, cost: Cost, text: str, reference: str | None) -> None:
    accuracy = f", CER {cer(text, reference):.3f}" if reference else ""
    print(f"  {name}: {cost.wall_s:.2f} s wall, {cost.cpu_s:.2f} s CPU{accuracy}", flush=True)


def _bare(
    model: models.LoadedModel, options: TranscriberOptions, path: Path, hotwords: str | None = None
) -> str:
    pipeline = BatchedInferencePipeline(model.whisper)
    segments, _info = pipeline.transcribe(
        str(path),
        language=options.language,
        beam_size=options.beam_size,
        batch_size=options.batch_size,
        without_timestamps=not options.timestamps,
        hotwords=hotwords,
    )
    return "".join(segment.text for segment in segments)


def _ours(model: models.LoadedModel, options: TranscriberOptions, path: Path) -> str:
    transcriber = Transcriber(model, options)
    for chunk in _pieces(path, "bench"):
        transcriber.add_piece(chunk)
    return "".join(segment.text for segment in transcriber.drain())


def _multi_stream(model: models.LoadedModel, options: TranscriberOptions, source: Path, count: int) -> None:
    transcriber = Transcriber(model, options)
    feeds = [_pieces(source, f"stream-{i}") for i in range(count)]
    seconds = count * (audio.duration_s(source) or 0.0)

    def run() -> str:
        for chunk in _round_robin(feeds):
            transcriber.add_piece(chunk)
            if transcriber.due(max_wait_s=float("inf")):
                transcriber.step()
        transcriber.drain()
        return ""

    cost, _ = _measured(run)
    threads = os.cpu_count() or 1
    print(
        f"{count} concurrent streams x {seconds / count:.1f} s, "
        f"batches of up to {options.batch_size} pieces: "
        f"{seconds / cost.wall_s:.2f}x real time in all (wall), "
        f"{seconds * threads / cost.cpu_s:.2f}x on {threads} dedicated cores (CPU time)",
        flush=True,
    )


def _round_robin(feeds: list[Iterator[AudioChunk]]) -> Iterator[AudioChunk]:
    live = list(feeds)
    while live:
        for feed in list(live):
            chunk = next(feed, None)
            if chunk is None:
                live.remove(feed)
            else:
                yield chunk


def _latency(model: models.LoadedModel, options: TranscriberOptions, source: Path) -> None:
    """One stream as it plays: each piece decoded as soon as it is cut."""
    transcriber = Transcriber(model, options)
    decode: list[float] = []
    for chunk in _pieces(source, "latency"):
        transcriber.add_piece(chunk)
        start = time.perf_counter()
        transcriber.drain()
        decode.append(time.perf_counter() - start)
    if decode:
        print(
            f"one live stream: a piece decoded in mean {statistics.mean(decode):.2f} s, "
            f"max {max(decode):.2f} s after its cut (bench/pipeline.py measures end to end)"
        )


if __name__ == "__main__":
    main()
