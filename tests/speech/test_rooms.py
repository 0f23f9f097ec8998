"""Real-room conditions rendered from clean speech (pipeline.speech.rooms): the levels, the tempo and
the codecs are what the room says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.speech.audio import decode_pcm, duration_s
from pipeline.speech.rooms import ROOMS, Room, babble, music_bed, render, speech_level
from tests.audio_sources import AUDIO

CLIP = AUDIO / "live01.flac"


def samples(path: Path) -> np.ndarray:
    return np.concatenate([b.astype(np.float64) / 32768.0 for b in decode_pcm(path)])


def level_db(signal: np.ndarray, reference: np.ndarray) -> float:
    return 20 * np.log10(speech_level(signal) / speech_level(reference))


def test_music_and_babble_sit_at_their_levels_below_the_speech(tmp_path: Path) -> None:
    clean = samples(CLIP)
    music, _ = render(CLIP, tmp_path, Room("m", music_snr_db=9.0))
    bed = samples(music) - clean[: len(samples(music))]
    assert level_db(bed, clean) == pytest.approx(-9.0, abs=0.5)
    crowd, _ = render(CLIP, tmp_path, Room("b", babble_db=-18.0))
    assert level_db(samples(crowd) - clean, clean) == pytest.approx(-18.0, abs=0.5)
    assert speech_level(music_bed(16_000)) > 0
    assert len(babble(clean)) == len(clean)


def test_tempo_shortens_the_recording_and_scales_its_timeline(tmp_path: Path) -> None:
    fast, scale = render(CLIP, tmp_path, Room("f", tempo=1.25))
    assert scale == pytest.approx(0.8)
    original, faster = duration_s(CLIP), duration_s(fast)
    assert original
    assert faster
    assert faster == pytest.approx(original * 0.8, rel=0.03)


@pytest.mark.parametrize("name", ["aac", "mp3", "live"])
def test_lossy_rooms_decode_to_speech_of_the_same_length(tmp_path: Path, name: str) -> None:
    room = ROOMS[name]
    path, scale = render(CLIP, tmp_path, room)
    assert path.suffix == {"aac": ".m4a", "mp3": ".mp3", "live": ".m4a"}[name]
    length = duration_s(path)
    assert length == pytest.approx((duration_s(CLIP) or 0) * scale, abs=0.15)
    assert room.describe() != "as recorded"


def test_a_room_with_an_unknown_codec_or_a_bad_tempo_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown codec 'opus'"):
        render(CLIP, tmp_path, Room("x", codec="opus"))
    with pytest.raises(ValueError, match="tempo must be positive"):
        render(CLIP, tmp_path, Room("x", tempo=0))
