"""Soak: long streams through the stage logic with memory that stays flat.

1. **Listing checks, claims and the warehouse sink: six streams of one hour each.** The sample
   scenario's listing events (products put on shelf, presented in turn every five minutes, taken
   off) and its 23 utterances, repeated every 4 s of stream time, go through the worker's
   :class:`pipeline.stream.runtime.Runtime` exactly as its agents drive it (``handle``,
   ``on_segments``, ``save`` into the embedded warehouse, then the streams' ends announced and
   ``settle``-d, which must release their state). 5,400 segments in all. Python's allocations
   (tracemalloc) and the process's resident memory are taken after the first ten minutes of stream
   time (warm-up: lexicon caches, chdb's buffers) and at the end of the hour; the growth between
   them must stay under a bound.

2. **Speech: ten minutes of one stream's audio** (the 108 s sample looped, offsets running on)
   cut into speech pieces by :func:`pipeline.speech.pieces.speech_chunks` and decoded by the
   worker's :class:`pipeline.speech.asr.Transcriber` (``worker_options``), measured the same way
   after the first two minutes. Ten minutes is what fits in CI: decoding costs about 0.09 CPU
   seconds per second of speech on the 2-core machine, more than twice that with tracemalloc on,
   so the ten minutes take about two minutes and an hour would add ten to every run; a leak per
   piece (about 150 pieces here) or per decoded batch would show well within ten minutes.

The bounds are several times what was measured here (see the constants), so they catch a leak
that grows with the stream, not the noise of a garbage collector or an allocator.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.config import Settings
from pipeline.ledger.files import read_ledger
from pipeline.records import ListingEvent, StreamInfo, TranscriptSegment, decode, stable_id
from pipeline.sample import Sample, load_sample
from pipeline.speech import models
from pipeline.speech.asr import Transcriber, worker_options
from pipeline.speech.audio import decode_pcm
from pipeline.speech.pieces import speech_chunks
from pipeline.stream import topics
from pipeline.stream.runtime import Runtime, create_runtime
from pipeline.warehouse import Store

pytestmark = [pytest.mark.slow, pytest.mark.integration]

STREAMS = 6
HOUR_S = 3600
SEGMENT_EVERY_S = 4.0
PRESENT_EVERY_S = 300.0
WARM_UP_S = 600
# Bounds on growth after warm-up (measured here: see docs/scaling.md, "Soak")
STAGE_PYTHON_GROWTH_BYTES = 4 << 20
STAGE_RSS_GROWTH_BYTES = 96 << 20
SPEECH_AUDIO_S = 600
SPEECH_WARM_UP_S = 120
SPEECH_PYTHON_GROWTH_BYTES = 4 << 20
SPEECH_RSS_GROWTH_BYTES = 128 << 20


def rss_bytes() -> int:
    """The process's resident set (Linux /proc)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Memory:
    """tracemalloc's current Python allocations and the RSS, at a checkpoint."""

    python: int
    rss: int

    @classmethod
    def now(cls) -> Memory:
        gc.collect()
        return cls(tracemalloc.get_traced_memory()[0], rss_bytes())


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------
# 1. Stage logic and sink


def stream_of(sample: Sample, index: int) -> StreamInfo:
    return StreamInfo(
        f"soak-{index}", f"anchor-{index}", sample.mcn_id, sample.started_at + timedelta(minutes=index)
    )


def listing_events(sample: Sample, info: StreamInfo) -> list[ListingEvent]:
    """The sample's cards on shelf at the start, one presented every five minutes, all off at the end."""
    cards = [
        decode(ListingEvent, line)
        for line in sample.listings.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["event"] == "on_shelf"
    ]
    mine = [replace(c, stream_id=info.stream_id, anchor_id=info.anchor_id, ts=info.started_at) for c in cards]
    events = list(mine)
    for n, at in enumerate(np.arange(0, HOUR_S, PRESENT_EVERY_S)):
        card = mine[n % len(mine)]
        events.append(replace(card, event="explain", ts=info.started_at + timedelta(seconds=float(at) + 1)))
    end = info.started_at + timedelta(seconds=HOUR_S)
    events += [replace(c, event="off_shelf", ts=end) for c in mine]
    return events


def segments(sample: Sample, info: StreamInfo) -> Iterator[TranscriptSegment]:
    texts = [s["text"] for s in sample.timeline]
    for n, offset in enumerate(np.arange(0, HOUR_S, SEGMENT_EVERY_S)):
        start = float(offset)
        yield TranscriptSegment(
            stable_id("soak", info.stream_id, n), info.stream_id, start, start + 3.5, texts[n % len(texts)]
        )


def run_stage(runtime: Runtime, sample: Sample, at: Callable[[float], None]) -> dict[str, int]:
    """All streams' events in stream-time order through the runtime, as the worker's agents call it:
    stream facts and listings through ``handle``, segments through ``on_segments``, everything
    through ``save`` (a minute of stream time at a time), then each stream's end announced and
    settled. ``at(t)`` is called once per minute of stream time."""
    infos = [stream_of(sample, i) for i in range(STREAMS)]
    timeline: list[tuple[float, int, Any]] = []
    for info in infos:
        timeline += [((e.ts - info.started_at).total_seconds(), 0, e) for e in listing_events(sample, info)]
        timeline += [(s.offset_s, 1, s) for s in segments(sample, info)]
    timeline.sort(key=lambda item: (item[0], item[1]))
    counts = {"segments": 0, "violations": 0}

    async def stream() -> None:
        for info in infos:
            await runtime.handle(topics.STREAMS, info)
        await runtime.save(infos)
        minute, pending = -1, []
        for offset, _, item in timeline:
            if int(offset // 60) != minute:
                await runtime.save(pending)
                minute, pending = int(offset // 60), []
                at(offset)
            if isinstance(item, ListingEvent):
                found = await runtime.handle(topics.LISTINGS, item)
            else:
                found = runtime.on_segments([item])
                counts["segments"] += 1
            counts["violations"] += len(found)
            pending += [item, *found]
        await runtime.save(pending)
        ended = [replace(info, ended_at=info.started_at + timedelta(seconds=HOUR_S)) for info in infos]
        for info in ended:
            await runtime.handle(topics.STREAMS, info)
        await runtime.save(ended)
        runtime.settle(info.stream_id for info in ended)

    asyncio.run(stream())
    return counts


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_an_hour_of_six_streams_through_the_worker_runtime_keeps_memory_flat(
    store: Store, store_settings: Settings, model: models.LoadedModel, traced: None
) -> None:
    sample = load_sample()
    runtime = create_runtime(store_settings, store, model=model)
    runtime.monitor.load_ledger(
        read_ledger(sample.ledger, runtime.monitor.rules, mcn_id=sample.mcn_id).entries
    )
    runtime.stage_table = {}  # the worker's changelog-backed table, as a plain mapping
    marks: list[Memory] = []

    def at(offset_s: float) -> None:  # every ten minutes of stream time from the warm-up on
        if offset_s >= WARM_UP_S and offset_s % 600 < 60:
            marks.append(Memory.now())

    counts = run_stage(runtime, sample, at)
    marks.append(Memory.now())  # the streams ended and their state released
    python_growth = marks[-2].python - marks[0].python
    rss_growth = marks[-2].rss - marks[0].rss
    series = ", ".join(f"{m.python / 1e6:.1f}/{m.rss / 1e6:.0f}" for m in marks)
    print(f"\nstage soak: {counts}; python/rss MB every 10 min from min 10, then after the end: {series}")
    assert counts["segments"] == STREAMS * HOUR_S / SEGMENT_EVERY_S
    assert counts["violations"] > STREAMS * 100, "the soak must exercise the claim and listing checks"
    stored = store.query("SELECT count() AS n FROM transcripts FINAL WHERE stream_id LIKE 'soak-%'")
    assert stored[0]["n"] == counts["segments"], "every segment reached the warehouse"
    assert not any(runtime.monitor.knows(f"soak-{i}") for i in range(STREAMS)), "ended streams are released"
    assert runtime.stage_table == {}
    assert runtime.counts["streams.released"] == STREAMS
    assert python_growth < STAGE_PYTHON_GROWTH_BYTES
    assert rss_growth < STAGE_RSS_GROWTH_BYTES


@pytest.fixture(scope="module")
def model() -> models.LoadedModel:
    return models.load(Settings())


# ---------------------------------------------------------------------------------------------
# 2. Speech


def looped_audio(sample: Sample, seconds: int) -> Iterator[np.ndarray]:
    """The sample's 1 s blocks, looped until ``seconds`` of audio."""
    blocks = list(decode_pcm(sample.audio))
    for n in range(seconds):
        yield blocks[n % len(blocks)]


def test_ten_minutes_of_speech_through_the_worker_transcriber_keeps_memory_flat(
    model: models.LoadedModel, traced: None
) -> None:
    sample = load_sample()
    transcriber = Transcriber(model, worker_options(model.device))
    marks: dict[str, Memory] = {}
    pieces = texts = 0
    for chunk in speech_chunks(looped_audio(sample, SPEECH_AUDIO_S), "soak-speech"):
        if chunk.final:
            break
        transcriber.add_piece(chunk)
        pieces += 1
        if transcriber.due(max_wait_s=0.0):
            texts += len(transcriber.drain())
        if chunk.offset_s >= SPEECH_WARM_UP_S and "warm" not in marks:
            marks["warm"] = Memory.now()
    texts += len(transcriber.drain())
    marks["end"] = Memory.now()
    python_growth = marks["end"].python - marks["warm"].python
    rss_growth = marks["end"].rss - marks["warm"].rss
    print(
        f"\nspeech soak: {pieces} pieces, {texts} segments, python +{python_growth / 1e6:.2f} MB, "
        f"rss +{rss_growth / 1e6:.1f} MB"
    )
    assert pieces > SPEECH_AUDIO_S / 10
    assert texts > pieces * 0.8
    assert transcriber.pending == 0
    assert python_growth < SPEECH_PYTHON_GROWTH_BYTES
    assert rss_growth < SPEECH_RSS_GROWTH_BYTES
