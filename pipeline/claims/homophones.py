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

Rooms that mask their words also put a stand-in character (某, 母, 抹…: ``stand_ins``) where one
syllable of a word should be (免某力, 免牡粒 for 免疫力). A word of three or more characters is
read where every syllable but one (not the first) reads like it and that one is a stand-in; such
a correction is always weak.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin, pinyin

from pipeline.claims.segment import Segmentation

STAND_INS_LIST = "MORPH_STAND_IN"  # the knowledge list of stand-in characters
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
    # toneless syllables from the third character on, to compare with a slice of the text's in one
    # step; None where pypinyin did not give one syllable per character (then compared one by one)
    rest: list[str] | None


class HomophoneCorrector:
    """Puts lexicon words in place of their homophones in a (normalised) transcript."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        is_word: Callable[[str], bool],
        stand_ins: Iterable[str] = (),
    ) -> None:
        self._is_word = is_word
        self._stand_ins = frozenset(stand_ins)
        self._vocabulary = frozenset(w for w in vocabulary if len(w) >= 2 and _HAN.match(w))
        # by the first toneless syllable, then the second: most characters of a transcript start
        # no lexicon word's reading, and one look-up says so
        self._index: dict[str, dict[str, list[_Word]]] = {}
        for text in sorted(self._vocabulary, key=lambda w: (-len(w), w)):
            toned = tuple(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
            toneless = tuple(_TONE.sub("", s) for s in toned)
            if len(toneless) < 2:
                continue  # no two syllables to look it up by (pypinyin joins what it cannot read)
            rest = list(toneless[2:]) if len(toneless) == len(text) else None
            word = _Word(text, toned, toneless, rest)
            self._index.setdefault(toneless[0], {}).setdefault(toneless[1], []).append(word)
        # each character's most common reading, with and without its tone ("" for none), learnt
        # from pypinyin the first time the character is seen
        self._toned: dict[str, str] = {}
        self._toneless: dict[str, str] = {}

    def correct(
        self, segmentation: Segmentation, exact: Iterable[tuple[int, int]]
    ) -> tuple[str, tuple[Correction, ...]]:
        """The text with homophones replaced, and the corrections made.

        ``exact`` are the spans where lexicon words already occur as written: they stay as they are.
        """
        text = segmentation.text
        toneless = self._syllables(text)
        index = self._index
        found: list[Correction] = []
        stand_ins = self._stand_ins if not self._stand_ins.isdisjoint(text) else frozenset()
        for i in range(len(text) - 1):
            seconds = index.get(toneless[i])
            if seconds is not None:
                words = seconds.get(toneless[i + 1])
                if words is not None:
                    self._candidates(text, toneless, i, words, found)
                if stand_ins and (text[i + 1] in stand_ins or text[i + 2 : i + 3] in stand_ins):
                    for group in seconds.values():  # a stand-in for the second syllable or later
                        self._masked(text, toneless, i, group, found)
        if not found:
            return text, ()
        chosen = self._choose(found, list(exact), segmentation.aligned)
        if not chosen:
            return text, ()
        chars = list(text)
        for c in chosen:
            chars[c.start : c.end] = c.word
        return "".join(chars), tuple(chosen)

    def _syllables(self, text: str) -> list[str]:
        """The toneless reading of every character of ``text`` ("" where it has none)."""
        known = self._toneless
        try:
            return [known[c] for c in text]
        except KeyError:  # a character not seen before
            for char in set(text) - known.keys():
                self._learn(char)
            return [known[c] for c in text]

    def _learn(self, char: str) -> None:
        toned = ""
        if _HAN.match(char):
            toned = pinyin(char, style=Style.TONE3, neutral_tone_with_five=True)[0][0]
        self._toned[char] = toned
        self._toneless[char] = _TONE.sub("", toned)

    def _candidates(
        self, text: str, toneless: list[str], i: int, words: list[_Word], found: list[Correction]
    ) -> None:
        """Add the corrections at ``i`` by the lexicon words whose first two syllables read like it."""
        for word in words:
            end = i + len(word.text)
            heard = text[i:end]
            if end > len(text) or heard == word.text or heard in self._vocabulary:
                continue
            rest = word.rest
            if rest is None:
                same = all(word.toneless[j] == toneless[i + j] for j in range(2, len(word.text)))
            else:
                same = rest == toneless[i + 2 : end]
            if same:
                found.append(Correction(i, end, heard, word.text, self._strong(word, heard)))

    def _masked(
        self, text: str, toneless: list[str], i: int, words: list[_Word], found: list[Correction]
    ) -> None:
        """Add the corrections at ``i`` by the words of three or more characters that read like it
        but for one syllable after the first, where a stand-in character is (免某力 → 免疫力)."""
        for word in words:
            end = i + len(word.text)
            if len(word.text) < 3 or end > len(text) or len(word.toneless) != len(word.text):
                continue
            heard = text[i:end]
            if heard == word.text or heard in self._vocabulary:
                continue
            masked = [j for j in range(1, len(word.text)) if word.toneless[j] != toneless[i + j]]
            if len(masked) == 1 and heard[masked[0]] in self._stand_ins:
                found.append(Correction(i, end, heard, word.text, strong=False))

    def _strong(self, word: _Word, heard: str) -> bool:
        if len(word.text) >= 3:
            return True
        toned = all(word.toned[j] == self._toned[heard[j]] for j in range(len(word.text)))
        return toned and not self._is_word(heard)

    @staticmethod
    def _choose(
        found: list[Correction], exact: list[tuple[int, int]], aligned: Callable[[int, int], bool]
    ) -> list[Correction]:
        """Non-overlapping corrections, longest and strongest first; none cuts into an exact word
        (将血压 → 降血压 keeps the 血压 it contains, but nothing may change a letter of it), and
        a mishearing replaces whole words: none cuts through a word jieba knows (``aligned``).

        Whether a correction is aligned is asked last, as it is the dearest question: leaving
        out the unaligned ones first and then choosing would choose the same."""
        chosen: list[Correction] = []
        for c in sorted(found, key=lambda c: (-(c.end - c.start), not c.strong, c.start)):
            clear = all(c.end <= o.start or c.start >= o.end for o in chosen)
            if (
                clear
                and all(c.end <= s or c.start >= e or (c.start <= s and e <= c.end) for s, e in exact)
                and aligned(c.start, c.end)
            ):
                chosen.append(c)
        return sorted(chosen, key=lambda c: c.start)
