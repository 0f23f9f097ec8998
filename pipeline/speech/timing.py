"""When each character was said: Whisper's word alignment carried onto the text ClaimWatch keeps.

faster-whisper aligns the decoded tokens with the audio through the decoder's cross-attention
(``WhisperModel.find_alignment``); for Chinese a "word" is a character or two. :func:`char_times`
turns those words into a start time per character, and :func:`carry_times` carries them onto the
text after the filters (Traditional → Simplified, spaces collapsed, loops cut), which keeps the
characters in order and changes few of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.speech.filters import to_simplified

LOOKAHEAD = 4  # characters of the source text skipped at most to find the next target character


def char_times(words: Iterable[Mapping[str, Any]]) -> tuple[str, list[float]]:
    """The aligned text and a start time (seconds into the piece) for each of its characters; the
    characters of a word share its span evenly."""
    text: list[str] = []
    times: list[float] = []
    for word in words:
        chars = str(word["word"])
        start, end = float(word["start"]), float(word["end"])
        step = (end - start) / max(1, len(chars))
        text.extend(chars)
        times.extend(round(start + i * step, 3) for i in range(len(chars)))
    return "".join(text), times


def carry_times(source: str, times: list[float], target: str) -> list[float]:
    """A time for each character of ``target`` (the filtered text) from ``source`` and its times:
    each target character takes the time of the next source character that reads as it (the same,
    or its Simplified form), else the time of the character before it."""
    simplified = to_simplified(source)
    if len(simplified) != len(source):  # a conversion that changed the length: compare as written
        simplified = source
    out: list[float] = []
    at = 0
    for char in target:
        found = next(
            (j for j in range(at, min(len(source), at + LOOKAHEAD)) if char in (source[j], simplified[j])),
            None,
        )
        if found is not None:
            out.append(times[found])
            at = found + 1
        else:
            out.append(out[-1] if out else (times[at] if at < len(times) else 0.0))
    return out
