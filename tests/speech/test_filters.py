"""Transcript filters: hallucinations, loops, Traditional → Simplified (pipeline.speech.filters)."""

from __future__ import annotations

import pytest

from pipeline.speech.filters import Part, Thresholds, Verdict, judge, judge_piece, to_simplified

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
