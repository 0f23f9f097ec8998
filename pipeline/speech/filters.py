"""What Whisper says that nobody said: normalising its text and catching its known failure modes.

* Traditional characters: Whisper often answers Mandarin in Traditional script; every text is
  converted to Simplified (OpenCC ``t2s``).
* Invented text: on silence, music or noise Whisper recites its training data's subtitles: credit
  lines (字幕由…提供, Amara.org), YouTube boilerplate (请不吝点赞 订阅 转发 打赏…) and sign-offs.
  These are dropped, as is text the model itself rates as no speech (Whisper's own rule: no-speech
  probability above 0.6 *and* mean log-probability below -1).
* Loops: a phrase repeated over and over, inside one segment or as a run of three or more identical
  segments, is cut back to one occurrence and marked low-confidence; so is a piece whose whole text
  compresses too well (Whisper's own loop signal).

:func:`judge_piece` returns a :class:`Verdict` per segment of a decoded piece: the text to keep (or
None to drop it, with the reason) and whether it is low-confidence, so the claim detector can weigh
it.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache

from opencc import OpenCC

# Lines that come from subtitle files and video platforms, not from a live-commerce host.
_BOILERPLATE = re.compile(
    r"字幕(由|提供|制作|翻译|校对|组|志愿者|by)|(中文|简体|繁体)字幕|amara|"
    r"订阅.{0,8}(点赞|转发|打赏|栏目|频道)|(点赞|转发|打赏).{0,8}订阅|明镜(与|和)点点|"
    r"独播剧场|yoyo television|请不吝|感谢(您的)?(观看|收看)本(期|集|视频)|"
    r"(欢迎|记得)订阅|下期(节目|视频)再见",
    re.IGNORECASE,
)
# Whole segments that are only a sign-off are typical of silence at a recording's end.
_SIGN_OFF = re.compile(r"^(谢谢|感谢)(大家|您)?(的)?(观看|收看|收听)[。！!.]*$")
_LOOP = re.compile(r"(.{1,12}?)\1{3,}", re.DOTALL)  # a unit said four or more times in a row
_SPACES = re.compile(r"\s+")
MAX_CHARS_PER_S = 12.0  # faster than any host speaks: the text was invented or looped


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where the model's own scores say "no speech" or "unsure"."""

    no_speech: float = 0.6  # with logprob below `logprob`: silence, drop
    logprob: float = -1.0
    unsure_no_speech: float = 0.4  # above this alone: keep but mark low-confidence
    unsure_logprob: float = -0.8
    compression_ratio: float = 2.4


@dataclass(frozen=True, slots=True)
class Part:
    """One timestamped segment of a decoded piece, as the model gave it."""

    text: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one segment: ``text`` None means drop it, for ``reason``."""

    text: str | None
    low_confidence: bool = False
    reason: str = ""


@cache
def _converter() -> OpenCC:
    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters converted to Simplified; other text unchanged."""
    return str(_converter().convert(text))


def tidy(text: str) -> str:
    """Simplified, trimmed text with runs of whitespace collapsed to one space."""
    return _SPACES.sub(" ", to_simplified(text)).strip()


def collapse_loops(text: str) -> tuple[str, bool]:
    """The text with each looped phrase kept once, and whether there was a loop."""
    collapsed = _LOOP.sub(lambda m: m.group(1), text)
    return collapsed, collapsed != text


def compression_ratio(text: str) -> float:
    """How well the text compresses (Whisper's loop signal: real speech stays under ~2.4)."""
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data)))


def judge(
    text: str, *, duration_s: float, no_speech_prob: float, avg_logprob: float, thresholds: Thresholds
) -> Verdict:
    """Keep, mark or drop one segment of recognised text."""
    clean = tidy(text)
    if not clean or not any(ch.isalnum() for ch in clean):
        return Verdict(None, reason="empty")
    if no_speech_prob > thresholds.no_speech and avg_logprob < thresholds.logprob:
        return Verdict(None, reason="no speech")
    if _BOILERPLATE.search(clean) or _SIGN_OFF.match(clean):
        return Verdict(None, reason="boilerplate")
    unsure = no_speech_prob > thresholds.unsure_no_speech or avg_logprob < thresholds.unsure_logprob
    unsure = unsure or compression_ratio(clean) > thresholds.compression_ratio
    clean, looped = collapse_loops(clean)
    too_fast = len(clean) > max(8.0, duration_s * MAX_CHARS_PER_S)
    return Verdict(clean, low_confidence=unsure or looped or too_fast)


def judge_piece(
    parts: list[Part], *, no_speech_prob: float, avg_logprob: float, thresholds: Thresholds
) -> list[Verdict]:
    """Verdicts for the segments of one piece (the scores are the piece's), loops across them handled."""
    verdicts = [
        judge(
            p.text,
            duration_s=p.duration_s,
            no_speech_prob=no_speech_prob,
            avg_logprob=avg_logprob,
            thresholds=thresholds,
        )
        for p in parts
    ]
    whole = "".join(v.text for v in verdicts if v.text)
    if compression_ratio(whole) > thresholds.compression_ratio:
        verdicts = [Verdict(v.text, True, v.reason) if v.text else v for v in verdicts]
    return _collapse_repeated(verdicts)


def _collapse_repeated(verdicts: list[Verdict]) -> list[Verdict]:
    """Runs of three or more identical segments: the first kept (low-confidence), the rest dropped."""
    out = list(verdicts)
    start = 0
    while start < len(out):
        end = start + 1
        while end < len(out) and out[end].text is not None and out[end].text == out[start].text:
            end += 1
        if out[start].text is not None and end - start >= 3:
            out[start] = Verdict(out[start].text, True)
            out[start + 1 : end] = [Verdict(None, reason="loop")] * (end - start - 1)
        start = end
    return out
