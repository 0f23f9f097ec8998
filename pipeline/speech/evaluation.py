"""Character error rate of the speech recogniser against reference transcripts.

Texts are compared after normalisation, so that only what was *heard* counts: Traditional
characters become Simplified, punctuation, symbols and whitespace are dropped, Arabic numbers are
read out in Chinese characters (Whisper writes "50单", references write "五十单") and 两 counts as
二. CER = (substitutions + deletions + insertions) / reference characters; the overall figure pools
the edits and characters of all files.

A data directory holds audio files and ``references.jsonl``, one ``{"file", "text"}`` per line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RecordError
from pipeline.jsonl import read_objects
from pipeline.speech.filters import to_simplified

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ((1000, "千"), (100, "百"), (10, "十"))


@dataclass(frozen=True, slots=True)
class FileScore:
    """One reference file: what was heard, and its edits against the reference."""

    file: str
    reference: str
    hypothesis: str
    edits: int
    length: int

    @property
    def cer(self) -> float:
        return self.edits / max(1, self.length)


def normalise(text: str) -> str:
    """The characters that count for CER (see the module docstring)."""
    text = _NUMBER.sub(lambda m: spell_number(m.group(0)), to_simplified(text)).replace("两", "二")
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")


def spell_number(number: str) -> str:
    """An Arabic number read out in Chinese characters: 2024 → 二千零二十四, 3.5 → 三点五."""
    whole, _, fraction = number.partition(".")
    spoken = _spell_integer(int(whole))
    return spoken + ("点" + "".join(_DIGITS[int(d)] for d in fraction) if fraction else "")


def _spell_integer(value: int) -> str:
    if value >= 100_000_000:
        return "".join(_DIGITS[int(d)] for d in str(value))  # long codes are read digit by digit
    if value >= 10_000:
        high, low = divmod(value, 10_000)
        rest = _below_10k(low)
        return _below_10k(high) + "万" + ("零" + rest if 0 < low < 1000 else rest)
    return _below_10k(value) or "零"


def _below_10k(value: int) -> str:
    out, pending_zero = "", False
    for unit, name in _SMALL_UNITS:
        digit, value = divmod(value, unit)
        if digit:
            out += ("零" if pending_zero else "") + _DIGITS[digit] + name
            pending_zero = False
        elif out:
            pending_zero = True
    if value:
        out += ("零" if pending_zero else "") + _DIGITS[value]
    return out[1:] if out.startswith("一十") else out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(hypothesis: str, reference: str) -> float:
    """Character error rate of one text against its reference, after normalisation."""
    ref = normalise(reference)
    return edit_distance(normalise(hypothesis), ref) / max(1, len(ref))


def score(file: str, hypothesis: str, reference: str) -> FileScore:
    """The edits of one file's transcript against its reference."""
    ref = normalise(reference)
    return FileScore(file, reference, hypothesis, edit_distance(normalise(hypothesis), ref), len(ref))


def overall(scores: list[FileScore]) -> float:
    """Pooled CER: all edits over all reference characters."""
    return sum(s.edits for s in scores) / max(1, sum(s.length for s in scores))


def references(data_dir: Path) -> Iterator[tuple[Path, str]]:
    """(audio path, reference text) for each line of ``data_dir/references.jsonl``."""
    listing = data_dir / "references.jsonl"
    for line, obj in read_objects(listing):
        if isinstance(obj, RecordError):
            raise obj
        file, text = obj.get("file"), obj.get("text")
        if not isinstance(file, str) or not isinstance(text, str):
            raise RecordError("needs string fields file and text", source=str(listing), line=line)
        yield data_dir / file, text


def evaluate(data_dir: Path, transcribe: Callable[[Path], str]) -> list[FileScore]:
    """Transcribe every reference file of ``data_dir`` and score it."""
    return [score(path.name, transcribe(path), text) for path, text in references(data_dir)]
