"""Speech pieces cut where the audio enters (pipeline.speech.pieces): a pure function of the audio."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.errors import AudioError
from pipeline.records import AudioChunk
from pipeline.speech.audio import decode_pcm
from pipeline.speech.pieces import LIVE_CUT, SpeechPieces, check_piece, speech_chunks
from pipeline.speech.vad import SAMPLE_RATE_HZ
from tests.audio_sources import SAMPLE

SECONDS = 30


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    """The first 30 s of the sample stream (five utterances and their pauses)."""
    return np.concatenate(list(decode_pcm(SAMPLE / "stream.ogg")))[: SECONDS * SAMPLE_RATE_HZ]


def blocks(audio: np.ndarray, size_s: float) -> list[np.ndarray]:
    size = round(size_s * SAMPLE_RATE_HZ)
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def cut(audio: np.ndarray, size_s: float, start_s: float = 0.0) -> list[AudioChunk]:
    return list(speech_chunks(blocks(audio, size_s), "s1", start_s=start_s))


def test_pieces_are_the_same_whatever_the_block_sizes(audio: np.ndarray) -> None:
    one = cut(audio, 1.0)
    assert one == cut(audio, 0.37) == cut(audio, 0.25)
    assert len(one) >= 6  # utterances of the sample's first 30 s, then the end marker


def test_pieces_hold_the_audio_at_their_offsets_and_never_overlap(audio: np.ndarray) -> None:
    *pieces, end = cut(audio, 0.5)
    assert end.final
    assert end.pcm == b""
    assert end.offset_s == pytest.approx(SECONDS)
    for piece in pieces:
        start = round(piece.offset_s * SAMPLE_RATE_HZ)
        samples = np.frombuffer(piece.pcm, dtype="<i2")
        assert np.array_equal(samples, audio[start : start + len(samples)])
        assert piece.duration_s <= LIVE_CUT.latency_budget_s
    assert all(a.offset_s + a.duration_s <= b.offset_s for a, b in itertools.pairwise(pieces))
    assert [p.seq for p in [*pieces, end]] == list(range(len(pieces) + 1))


def test_a_stream_picked_up_later_keeps_absolute_offsets(audio: np.ndarray) -> None:
    from_zero = cut(audio, 1.0)
    from_hundred = cut(audio, 1.0, start_s=100.0)
    assert [p.offset_s + 100.0 for p in from_zero] == pytest.approx([p.offset_s for p in from_hundred])


def test_silence_makes_no_piece() -> None:
    quiet = SpeechPieces()
    assert quiet.push(np.zeros(10 * SAMPLE_RATE_HZ, dtype=np.int16)) == []
    assert quiet.finish() == []
    assert quiet.end_sample == 10 * SAMPLE_RATE_HZ


def test_a_piece_the_transcriber_cannot_take_is_named() -> None:
    good = AudioChunk("s1", 4, 1.0, SAMPLE_RATE_HZ, b"\x00\x00" * SAMPLE_RATE_HZ)
    assert check_piece(good, max_s=2.0) is good
    with pytest.raises(AudioError, match="chunk 4 of s1: 8000 Hz, not 16 kHz"):
        check_piece(AudioChunk("s1", 4, 1.0, 8000, b"\x00\x00"))
    with pytest.raises(AudioError, match="odd number of PCM bytes"):
        check_piece(AudioChunk("s1", 4, 1.0, SAMPLE_RATE_HZ, b"\x00"))
    with pytest.raises(AudioError, match=r"1\.0 s of audio, more than the 0\.5 s allowed"):
        check_piece(good, max_s=0.5)
