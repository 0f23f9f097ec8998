"""Tolerance of speech-recognition homophones (美白 heard as 每白, 祛斑 as 驱搬).

Speech recognisers write a sound with a wrong character far more often than they mishear the
sound. So, for transcripts only, we compare pinyin: wherever a run of characters reads like a
lexicon word but is written differently, the lexicon word is put in its place. The replacement has
the same length, so offsets into the original text are unchanged and the reported term is what was
actually written (每白).

Each character is read with its most common reading only (的 is de, not the rare dí), and a
correction must not cut through a word of jieba's segmentation of the transcript (直播间只要 holds
no 减脂). Homophones are everywhere in Chinese, so a correction is *strong* only when it is
unlikely to be a different, real word:

- words of three or more syllables: the toneless pinyin must match (保平按 → 保平安);
- two-syllable words: the pinyin with tones must match and what was heard must not be a word of
  jieba's dictionary (每白 → 美白 yes; 没白 méi bái in 没白买 no: other tone; 一生 → 医生 no: a word).

A *weak* correction (toneless match, or a real word) is still made, but a claim may only rely on
it when the claim has at least two more characters beside it (一生推荐 → 医生推荐 is an
endorsement; 我的一生 is nothing, and neither is 别指望 → 别之王).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin, pinyin

from pipeline.claims.segment import Segmentation

_HAN = re.compile(r"^[\u3400-\u9fff]+$")
_TONE = re.compile(r"[1-5]$")


@dataclass(frozen=True, slots=True)
class Correction:
    """``heard`` at ``[start, end)`` of the normalised text was read as lexicon word ``word``."""

    start: int
    end: int
    heard: str
    word: str
    strong: bool


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    toned: tuple[str, ...]
    toneless: tuple[str, ...]


_Reading = tuple[str, str]  # (with tone, without tone) of a character's most common reading
_NO_READING: _Reading = ("", "")


class HomophoneCorrector:
    """Puts lexicon words in place of their homophones in a (normalised) transcript."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        is_word: Callable[[str], bool],
    ) -> None:
        self._is_word = is_word
        self._vocabulary = frozenset(w for w in vocabulary if len(w) >= 2 and _HAN.match(w))
        self._index: dict[tuple[str, str], list[_Word]] = {}  # by the first two toneless syllables
        for text in sorted(self._vocabulary, key=lambda w: (-len(w), w)):
            toned = tuple(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
            word = _Word(text, toned, tuple(_TONE.sub("", s) for s in toned))
            self._index.setdefault(word.toneless[:2], []).append(word)  # type: ignore[arg-type]
        self._readings: dict[str, _Reading] = {}

    def correct(
        self, segmentation: Segmentation, exact: Iterable[tuple[int, int]]
    ) -> tuple[str, tuple[Correction, ...]]:
        """The text with homophones replaced, and the corrections made.

        ``exact`` are the spans where lexicon words already occur as written: they stay as they are.
        """
        text = segmentation.text
        known = self._readings
        readings = [known.get(c) or self._reading(c) for c in text]
        index = self._index
        found = [
            c
            for i in range(len(text) - 1)
            if (readings[i][1], readings[i + 1][1]) in index
            for c in self._candidates(text, readings, i)
        ]
        # a mishearing replaces whole words: it does not cut through a word jieba knows
        found = [c for c in found if segmentation.aligned(c.start, c.end)]
        chosen = self._choose(found, list(exact))
        if not chosen:
            return text, ()
        chars = list(text)
        for c in chosen:
            chars[c.start : c.end] = c.word
        return "".join(chars), tuple(chosen)

    def _reading(self, char: str) -> _Reading:
        reading = self._readings.get(char)
        if reading is None:
            reading = _NO_READING
            if _HAN.match(char):
                toned = pinyin(char, style=Style.TONE3, neutral_tone_with_five=True)[0][0]
                reading = (toned, _TONE.sub("", toned))
            self._readings[char] = reading
        return reading

    def _candidates(self, text: str, readings: list[_Reading], i: int) -> Iterable[Correction]:
        for word in self._index[readings[i][1], readings[i + 1][1]]:
            end = i + len(word.text)
            heard = text[i:end]
            if end > len(text) or heard == word.text or heard in self._vocabulary:
                continue
            if all(word.toneless[j] == readings[i + j][1] for j in range(2, len(word.text))):
                yield Correction(i, end, heard, word.text, self._strong(word, heard, readings[i:end]))

    def _strong(self, word: _Word, heard: str, readings: list[_Reading]) -> bool:
        if len(word.text) >= 3:
            return True
        toned = all(word.toned[j] == readings[j][0] for j in range(len(word.text)))
        return toned and not self._is_word(heard)

    @staticmethod
    def _choose(found: list[Correction], exact: list[tuple[int, int]]) -> list[Correction]:
        """Non-overlapping corrections, longest and strongest first; none cuts into an exact word
        (将血压 → 降血压 keeps the 血压 it contains, but nothing may change a letter of it)."""
        chosen: list[Correction] = []
        for c in sorted(found, key=lambda c: (-(c.end - c.start), not c.strong, c.start)):
            clear = all(c.end <= o.start or c.start >= o.end for o in chosen)
            if clear and all(c.end <= s or c.start >= e or (c.start <= s and e <= c.end) for s, e in exact):
                chosen.append(c)
        return sorted(chosen, key=lambda c: c.start)
