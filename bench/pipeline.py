"""End-to-end latency and capacity of one worker, beside bare faster-whisper, in one run.

    python -m bench.pipeline [--streams 1 6] [--stagger 4.0]

For each count N, N copies of the sample stream (pipeline/sample, 108 s) are ingested at real
time into the embedded broker, each by a process of its own as in production (what
`claimwatch ingest audio --realtime` runs: `ingest_audio(realtime=True)`; the processes start and
import before the measurement, then begin staggered over ``--stagger`` seconds). Until
2026-12-04 the ingests were threads of this process: N streams' Ogg decoding, archive encoding,
VAD and pure-Python record checksums then shared the worker's GIL and skewed its figures. One
in-process worker (the faust app of `claimwatch worker`) transcribes, detects, checks and stores
them in the embedded warehouse, and the warehouse is polled every 0.1 s. For every violation
heard in speech, latency is the time from the end of the utterance (its end in timeline.json,
as the audio played) to the violation being queryable in ClickHouse. A worker sustains N
real-time streams when its p95 stays under
the target (4 s, never above 6 s) for all of them.

Baseline, measured in the same run: bare faster-whisper (``BatchedInferencePipeline`` on the
whole sample file, same model) and its real-time factor.

Beside the latencies each count prints CPU seconds per second of speech: this process's (the
worker, the embedded warehouse and the poll; the broker is a process of its own) and the ingest
processes'. On a shared machine latencies follow the neighbours' load; CPU seconds much less.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
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
    cost: Cost | None = None

    @property
    def sustained(self) -> bool:
        if not self.latencies:
            return False
        q = statistics.quantiles(self.latencies, n=20, method="inclusive")
        return q[18] <= TARGET_P95_S and max(self.latencies) <= CEILING_S and not self.missing

    def line(self) -> str:
        if not self.latencies:
            return f"{self.streams} streams: no violations measured"
        q = statistics.quantiles(self.latencies, n=20, method="inclusive")
        line = (
            f"{self.streams:>2} real-time streams: latency p50 {statistics.median(self.latencies):.2f} s, "
            f"p95 {q[18]:.2f} s, max {max(self.latencies):.2f} s over {len(self.latencies)} violations, "
            f"{self.missing} missing -> {'sustained' if self.sustained else 'NOT sustained'}"
        )
        return line if self.cost is None else f"{line}\n    {self.cost.line()}"


@dataclass(frozen=True)
class Cost:
    """CPU seconds spent while the streams ran, and the seconds of speech they carried."""

    worker_cpu_s: float  # this process: the worker, the embedded warehouse, the poll
    ingest_cpu_s: float  # the ingest processes, from their start signal to their end
    speech_s: float  # the speech pieces published, all streams

    def line(self) -> str:
        per = max(self.speech_s, 1e-9)
        return (
            f"CPU per second of speech: worker process {self.worker_cpu_s / per:.3f} CPU-s, "
            f"ingest processes {self.ingest_cpu_s / per:.3f} ({self.worker_cpu_s:.0f} + "
            f"{self.ingest_cpu_s:.0f} CPU-s for {self.speech_s:.0f} s of speech)"
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
    sustained = [r.streams for r in results if r.sustained]
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
        context = multiprocessing.get_context("spawn")  # no copy of this process's threads and model
        go, reports = context.Event(), context.Queue()
        ingests = [
            context.Process(
                target=_ingest, args=(feed, f"bench-{i}", i * stagger / count, go, reports), daemon=True
            )
            for i in range(count)
        ]
        for process in ingests:
            process.start()
        ready = 0
        while ready < count:  # imported and connected: their start-up is not measured
            kind, *_ = await asyncio.to_thread(reports.get, True, 120)
            ready += kind == "ready"
        await asyncio.sleep(8)  # the worker joins its group before the streams start
        worker_cpu = time.process_time()
        go.set()
        seen = await asyncio.to_thread(_watch, store, ingests)
        worker_cpu = time.process_time() - worker_cpu
    starts, speech_s, ingest_cpu = _collect(reports, count)
    result = _latencies(feed.sample, starts, seen, store, heard)
    result.cost = Cost(worker_cpu, ingest_cpu, speech_s)
    return result


def _ingest(feed: Feed, stream_id: str, delay: float, go: Any, reports: Queue[tuple[Any, ...]]) -> None:
    """One stream's ingest, in a process of its own (what `claimwatch ingest audio --realtime`
    runs), started ``delay`` seconds after ``go``; it reports its start (the monotonic clock is
    the machine's, the same in every process), its speech seconds and its CPU seconds."""
    settings, sample = feed.settings, feed.sample
    listings = sample.listings.read_text(encoding="utf-8").replace(sample.stream_id, stream_id)
    path = settings.data_dir / f"{stream_id}.jsonl"
    path.write_text(listings, encoding="utf-8")
    info = StreamInfo(stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
    with Publisher(feed.bootstrap, settings.topic_partitions) as publisher:
        reports.put(("ready", stream_id))
        go.wait()
        cpu = time.process_time()
        time.sleep(delay)
        ingest_listings(publisher, path)
        reports.put(("start", stream_id, time.monotonic()))
        done = ingest_audio(publisher, info, sample.audio, audio_dir=settings.audio_dir, realtime=True)
    reports.put(("done", stream_id, done.speech_s, time.process_time() - cpu))


def _collect(reports: Queue[tuple[Any, ...]], count: int) -> tuple[dict[str, float], float, float]:
    """The ingests' starts by stream, and their speech and CPU seconds in all."""
    starts: dict[str, float] = {}
    speech_s = cpu_s = 0.0
    done = 0
    while done < count:
        report = reports.get(timeout=30)
        if report[0] == "start":
            starts[report[1]] = report[2]
        elif report[0] == "done":
            speech_s, cpu_s, done = speech_s + report[2], cpu_s + report[3], done + 1
    return starts, speech_s, cpu_s


def _watch(store: Store, ingests: list[BaseProcess]) -> dict[str, float]:
    """First time each violation was queryable (monotonic), until 20 s after the feeds ended."""
    seen: dict[str, float] = {}
    quiet_until = None
    while quiet_until is None or time.monotonic() < quiet_until:
        now = time.monotonic()
        for row in store.query("SELECT event_id FROM violations FINAL WHERE source = 'speech'"):
            seen.setdefault(row["event_id"], now)
        if quiet_until is None and not any(p.is_alive() for p in ingests):
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
