"""The worker's transcriber decodes a batch the agent takes in one call per encoder window size,
not in steps whose first results wait for the later ones (docs/scaling.md, issue 19 item 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings, load_settings
from pipeline.records import AudioChunk
from pipeline.speech import audio, models
from pipeline.speech.asr import WORKER_BATCH, Transcriber, worker_options
from pipeline.speech.evaluation import cer
from pipeline.speech.pieces import speech_chunks
from pipeline.stream.runtime import create_runtime
from pipeline.warehouse import Store
from tests.audio_sources import SAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> models.LoadedModel:
    return models.load(load_settings(data_dir=tmp_path_factory.mktemp("worker-batches")))


@pytest.fixture(scope="module")
def pieces() -> list[AudioChunk]:
    """What ingest publishes for the sample: a chunk per utterance."""
    blocks = audio.decode_pcm(SAMPLE / "stream.ogg")
    return [chunk for chunk in speech_chunks(blocks, "room-1") if not chunk.final]


def counting_calls(transcriber: Transcriber) -> list[int]:
    """The number of pieces in each batched encode + generate call the transcriber makes."""
    calls: list[int] = []
    generate: Callable[..., Any] = transcriber._generate

    def spy(frames: int, jobs: list[Any]) -> Any:
        calls.append(len(jobs))
        return generate(frames, jobs)

    transcriber._generate = spy  # type: ignore[method-assign]
    return calls


def test_a_worker_batch_is_one_call_per_window_size(
    model: models.LoadedModel, pieces: list[AudioChunk]
) -> None:
    batch = pieces[:12]
    transcriber = Transcriber(model, worker_options(model.device, batch_size=len(batch)))
    calls = counting_calls(transcriber)
    for chunk in batch:
        transcriber.add_piece(chunk)
    segments = transcriber.step()  # one step: the whole batch
    assert transcriber.pending == 0
    windows = {transcriber._frames(job) for job in transcriber_jobs(model, batch)}
    assert len(calls) == len(windows) < len(batch)  # pieces of one window size share a call
    assert sum(calls) == len(batch)
    reference = "".join(
        s["text"] for s in timeline() if s["end"] <= batch[-1].offset_s + batch[-1].duration_s
    )
    assert cer(reference, "".join(s.text for s in segments)) <= 0.2


def test_the_old_step_of_eight_split_a_batch_of_twelve(
    model: models.LoadedModel, pieces: list[AudioChunk]
) -> None:
    """What the worker did before: the agent's batch decoded in steps of 8, so more calls."""
    batch = pieces[:12]
    transcriber = Transcriber(model, worker_options(model.device, batch_size=8))
    for chunk in batch:
        transcriber.add_piece(chunk)
    assert len(transcriber.step()) <= 8 < len(batch)
    assert transcriber.pending == len(batch) - 8


def test_the_worker_decodes_what_the_agent_takes_at_once(
    store_settings: Settings, store: Store, model: models.LoadedModel
) -> None:
    settings = store_settings.model_copy(update={"transcribe_batch_pieces": 12})
    assert create_runtime(settings, store, model=model).transcriber.options.batch_size == 12
    assert create_runtime(store_settings, store, model=model).transcriber.options.batch_size == (
        store_settings.transcribe_batch_pieces
    )


def test_worker_options_refuse_an_empty_batch() -> None:
    assert worker_options("cpu").batch_size == WORKER_BATCH
    with pytest.raises(ValueError, match="batch_size"):
        worker_options("cpu", batch_size=0)


def transcriber_jobs(model: models.LoadedModel, chunks: list[AudioChunk]) -> list[Any]:
    probe = Transcriber(model, worker_options(model.device, batch_size=len(chunks)))
    for chunk in chunks:
        probe.add_piece(chunk)
    return list(probe._queue)


def timeline() -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = json.loads(Path(SAMPLE / "timeline.json").read_text(encoding="utf-8"))[
        "segments"
    ]
    return segments
