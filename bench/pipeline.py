"""End-to-end latency and capacity of one worker, beside bare faster-whisper, in one run.

    python -m bench.pipeline [--streams 1 6] [--stagger 4.0]

For each count N, N copies of the sample stream (pipeline/sample, 108 s) are ingested at real
time (`ingest_audio(realtime=True)` in threads of this process, starts staggered over
``--stagger`` seconds) into the embedded broker, one in-process worker (the faust app of
`claimwatch worker`) transcribes, detects, checks and stores them in the embedded warehouse, and
the warehouse is polled every 0.1 s. For every violation heard in speech, latency is the time
from the end of the utterance (its end in timeline.json, as the audio played) to the violation
being queryable in ClickHouse. A worker sustains N real-time streams when its p95 stays under
the target (4 s, never above 6 s) for all of them.

Baseline, measured in the same run: bare faster-whisper (``BatchedInferencePipeline`` on the
whole sample file, same model) and its real-time factor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faster_whisper import BatchedInferencePipeline

from pipeline.config import Settings, load_settings
from pipeline.records import StreamInfo
from pipeline.sample import Sample, load_sample
from pipeline.speech import models
from pipeline.speech.audio import duration_s
from pipeline.stream.analyze import analyze
from pipeline.stream.app import build, running
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.demo import Feed, import_ledger
from pipeline.stream.ingest import ingest_audio, ingest_listings
from pipeline.stream.publish import Publisher, ensure_topics
from pipeline.stream.runtime import create_runtime
from pipeline.warehouse import Store, open_store

TARGET_P95_S = 4.0
CEILING_S = 6.0


@dataclass
class Result:
    streams: int
    latencies: list[float]
    missing: int

    def line(self) -> str:
        if not self.latencies:
            return f"{self.streams} streams: no violations measured"
        q = statistics.quantiles(self.latencies, n=20, method="inclusive")
        ok = q[18] <= TARGET_P95_S and max(self.latencies) <= CEILING_S and not self.missing
        return (
            f"{self.streams:>2} real-time streams: latency p50 {statistics.median(self.latencies):.2f} s, "
            f"p95 {q[18]:.2f} s, max {max(self.latencies):.2f} s over {len(self.latencies)} violations, "
            f"{self.missing} missing -> {'sustained' if ok else 'NOT sustained'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--stagger", type=float, default=4.0, help="starts spread over this many seconds")
    args = parser.parse_args()
    sample = load_sample()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), broker_session_timeout_s=6.0, topic_partitions=8)
        model = models.load(settings)
        rtf = bare_rtf(model, sample)
        print(f"bare faster-whisper on the sample: RTF {rtf:.3f} ({1 / rtf:.1f}x real time), {model.label}")
        heard = heard_per_stream(settings, model, sample)
        print(
            f"`analyze` on this CPU: {heard} speech violations per stream "
            f"({expected_per_stream(sample)} expected); 'missing' counts what the pipeline lost beside it"
        )
        results = []
        for count in args.streams:
            results.append(run(settings, model, sample, count, args.stagger, heard=heard))
            print(results[-1].line(), flush=True)
    print(f"baseline: bare faster-whisper RTF {rtf:.3f} ({1 / rtf:.1f}x real time) in the same run")
    sustained = [r.streams for r in results if "NOT" not in r.line()]
    if sustained:
        print(f"sustained {max(sustained)} real-time streams on one worker")
    else:
        tried = ", ".join(str(r.streams) for r in results)
        print(f"sustained none of the stream counts tried ({tried}) on one worker")


def bare_rtf(model: models.LoadedModel, sample: Sample) -> float:
    pipeline = BatchedInferencePipeline(model.whisper)
    started = time.perf_counter()
    segments, _ = pipeline.transcribe(str(sample.audio), language="zh", beam_size=5, batch_size=8)
    list(segments)
    return (time.perf_counter() - started) / (duration_s(sample.audio) or 1.0)


def run(
    settings: Settings,
    model: models.LoadedModel,
    sample: Sample,
    count: int,
    stagger: float,
    *,
    heard: int,
) -> Result:
    own = settings.model_copy(update={"clickhouse_database": f"bench{count}"})
    with EmbeddedBroker() as broker, open_store(own) as store:
        feed = Feed(own, broker.bootstrap, sample, realtime=True)
        import_ledger(feed, store, lambda _s: None)
        app = build(own, broker.bootstrap, create_runtime(own, store, model=model))
        return asyncio.run(_measure(app, feed, store, count, stagger, heard=heard))


async def _measure(app: Any, feed: Feed, store: Store, count: int, stagger: float, *, heard: int) -> Result:
    ensure_topics(feed.bootstrap, feed.settings.topic_partitions)
    async with running(app):
        await asyncio.sleep(8)  # the worker joins its group before the streams start
        starts: dict[str, float] = {}
        threads = [
            threading.Thread(target=_feed, args=(feed, f"bench-{i}", i * stagger / count, starts))
            for i in range(count)
        ]
        for thread in threads:
            thread.start()
        seen = await asyncio.to_thread(_watch, store, threads)
    return _latencies(feed.sample, starts, seen, store, heard)


def _feed(feed: Feed, stream_id: str, delay: float, starts: dict[str, float]) -> None:
    settings, sample = feed.settings, feed.sample
    time.sleep(delay)
    listings = sample.listings.read_text(encoding="utf-8").replace(sample.stream_id, stream_id)
    path = settings.data_dir / f"{stream_id}.jsonl"
    path.write_text(listings, encoding="utf-8")
    info = StreamInfo(stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
    with Publisher(feed.bootstrap, settings.topic_partitions) as publisher:
        ingest_listings(publisher, path)
        starts[stream_id] = time.monotonic()
        ingest_audio(publisher, info, sample.audio, audio_dir=settings.audio_dir, realtime=True)


def _watch(store: Store, threads: list[threading.Thread]) -> dict[str, float]:
    """First time each violation was queryable (monotonic), until 20 s after the feeds ended."""
    seen: dict[str, float] = {}
    quiet_until = None
    while quiet_until is None or time.monotonic() < quiet_until:
        now = time.monotonic()
        for row in store.query("SELECT event_id FROM violations FINAL WHERE source = 'speech'"):
            seen.setdefault(row["event_id"], now)
        if quiet_until is None and not any(t.is_alive() for t in threads):
            quiet_until = time.monotonic() + 20
        time.sleep(0.1)
    return seen


def _latencies(
    sample: Sample, starts: dict[str, float], seen: dict[str, float], store: Store, heard: int
) -> Result:
    rows = store.query("SELECT event_id, stream_id, offset_s FROM violations FINAL WHERE source = 'speech'")
    ends = [(s["start"], s["end"]) for s in sample.timeline]
    latencies = []
    for row in rows:
        end = next((e for s, e in ends if s - 1.0 <= row["offset_s"] <= e), None)
        if end is not None and row["stream_id"] in starts:
            latencies.append(seen[row["event_id"]] - (starts[row["stream_id"]] + end))
    return Result(len(starts), latencies, max(0, heard * len(starts) - len(rows)))


def heard_per_stream(settings: Settings, model: models.LoadedModel, sample: Sample) -> int:
    """Speech violations `claimwatch analyze` finds in the sample on this CPU: what every stream
    through the pipeline must give (Whisper's words, and so the claims heard, differ between CPUs)."""
    info = StreamInfo(sample.stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
    result = analyze(
        settings, audio=sample.audio, listings=sample.listings, ledger=sample.ledger, info=info, model=model
    )
    return sum(v.source == "speech" for v in result.violations)


def expected_per_stream(sample: Sample) -> int:
    """Violations the sample's speech should give: its claims and the cross checks of what was said."""
    claims = sum(len(item["categories"]) for item in sample.expected["claims"])
    return claims + sum(c["category"] == "efficacy_without_registration" for c in sample.expected["checks"])


if __name__ == "__main__":
    main()
