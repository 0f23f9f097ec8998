"""Streaming VAD and the piece cutter (pipeline.speech.vad)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from faster_whisper.vad import get_vad_model

from pipeline.speech.audio import decode_pcm
from pipeline.speech.vad import WINDOW, CutOptions, Piece, PieceCutter, StreamingVad
from tests.audio_sources import SAMPLE

# -- streaming VAD --------------------------------------------------------------------------------


def test_streaming_vad_matches_the_whole_recording_whatever_the_feed_sizes() -> None:
    pcm = np.concatenate(list(decode_pcm(SAMPLE / "stream.ogg")))[: 16_000 * 20]
    audio = pcm.astype(np.float32) / 32768.0
    whole = get_vad_model()(np.pad(audio, (0, WINDOW - len(audio) % WINDOW))).reshape(-1)
    vad = StreamingVad()
    rng = np.random.default_rng(1)
    got: list[np.ndarray] = []
    at = 0
    while at < len(audio):
        size = int(rng.integers(1, 9000))
        got.append(vad.push(audio[at : at + size]))
        at += size
    streamed = np.concatenate(got)
    assert len(streamed) == len(audio) // WINDOW
    np.testing.assert_allclose(streamed, whole[: len(streamed)], atol=1e-5)


# -- piece cutting --------------------------------------------------------------------------------


def probs(*runs: tuple[float, float]) -> np.ndarray:
    """Probabilities from (seconds, probability) runs, one value per 32 ms window."""
    return np.concatenate([np.full(round(s * 16_000 / WINDOW), p, dtype=np.float32) for s, p in runs])


def cut(options: CutOptions, *runs: tuple[float, float]) -> list[Piece]:
    cutter = PieceCutter(options)
    data = probs(*runs)
    return cutter.push(data) + cutter.flush(len(data) * WINDOW)


def seconds(piece: Piece) -> tuple[float, float]:
    return round(piece.start / 16_000, 2), round(piece.end / 16_000, 2)


def test_silence_makes_no_piece() -> None:
    assert cut(CutOptions(), (60, 0.01)) == []


def test_utterances_are_merged_up_to_the_budget_and_cut_in_a_silence() -> None:
    opts = CutOptions(latency_budget_s=10, speech_pad_s=0.2)
    utterance, pause = (3.0, 0.9), (0.7, 0.05)
    pieces = cut(opts, (1.0, 0.0), *[utterance, pause] * 5)
    # speech at 1-4, 4.7-7.7, 8.4-11.4, 12.1-15.1, 15.8-18.8 s. At 11 s the oldest speech (1 s) has
    # waited the budget: the piece ends after the last finished utterance; the one being said waits.
    assert [seconds(p) for p in pieces] == [(0.79, 7.91), (8.22, 15.34), (15.64, 19.05)]
    for before, after in itertools.pairwise(pieces):
        assert before.end <= after.start  # never overlapping: nothing is decoded twice


def test_speech_without_a_pause_is_cut_at_its_quietest_moment() -> None:
    opts = CutOptions(latency_budget_s=8, speech_pad_s=0.2)
    pieces = cut(opts, (6.0, 0.95), (0.2, 0.45), (6.0, 0.95), (1.0, 0.0))
    # at 8 s the budget is spent with no pause: the cut goes where the voice dipped (6.0 s), and
    # the rest joins the next piece, edge to edge
    assert [seconds(p) for p in pieces] == [(0.0, 6.02), (6.02, 12.42)]


def test_blips_shorter_than_min_speech_are_ignored() -> None:
    assert cut(CutOptions(), (2, 0.0), (0.06, 0.9), (2, 0.0)) == []


def test_budget_outside_whispers_window_is_refused() -> None:
    with pytest.raises(ValueError, match="latency_budget_s"):
        CutOptions(latency_budget_s=40)
