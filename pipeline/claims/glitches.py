"""What real live-room speech puts inside words, read past before matching (speech only).

Real transcripts of live rooms are not the clean speech of our own lines: recognisers write the
hesitations (美呃白), anchors stutter (美美白, 临临床床, 效效果), and the transcripts of rooms that
mask their words carry a 某 in the middle of a word (关某节, 舒某松, 做某用). A claim heard through
one of these is still the same claim (TAXONOMY: a claim heard through an ASR error is a claim), so
for speech the detector leaves them out before matching, and the offsets still map back to the
text as written (the reported term is 关某节).

What is dropped is data (``lexicons/knowledge/speech.yaml``):

- ``SPEECH_FILLER``: hesitation sounds (呃, 嗯), wherever they stand;
- ``MORPH_MARK`` (某) between two Chinese characters, unless what follows makes it a determiner
  or a masked name (``MORPH_DETERMINER``: 某个, 某品牌, 某宝, 张某某);
- the first of two equal Chinese characters where the pair is no common word (效效, 临临) and
  nothing of the lexicon holds it as written (痘痘, 个子蹭蹭长), or where a lexicon word starts
  right after it (美美白: 美美 is a word, but 美白 follows). Numerals are never collapsed (一百九九);
- ``MORPH_INFIX`` (什么) inside a word, where leaving it out makes a word the lexicons or the
  knowledge lists hold (老年什么斑 → 老年斑, 晒什么斑 → 晒斑, 国什么家 → 国家; not 有什么问题);
- ``MORPH_PAIR`` (小) said before each half of a word (小帮小助 → 帮助, 小便小秘 → 便秘), where the
  two halves make a common word or one the lexicons hold (not 小猫小狗).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.claims.lexicon import Lexicon
from pipeline.claims.matching import TermIndex
from pipeline.claims.normalize import Normalised

_HAN = "\u3400-\u9fff"
_NUMERALS = frozenset("零〇一二两三四五六七八九十百千万亿几半")


class SpeechGlitches:
    """Finds the fillers, masking marks and stutters of a normalised transcript and drops them."""

    def __init__(self, lexicon: Lexicon, index: TermIndex, is_word: Callable[[str], bool]) -> None:
        lists = {k.name: k.terms for k in lexicon.knowledge}
        self._fillers = frozenset(_chars(lists.get("SPEECH_FILLER", ())))
        self._marks = frozenset(_chars(lists.get("MORPH_MARK", ())))
        self._determiners = frozenset(_chars(lists.get("MORPH_DETERMINER", ())))
        self._infixes = tuple(lists.get("MORPH_INFIX", ()))
        self._pairs = frozenset(_chars(lists.get("MORPH_PAIR", ())))
        self._index = index
        self._is_word = is_word
        words = [*index.strings, *(t for k in lexicon.knowledge for t in k.terms)]
        # what an infix or a pair may be left out for: the strings of the lexicons and the lists
        self._words = frozenset(w for w in words if len(w) >= 2)
        self._longest = max((len(w) for w in self._words), default=0)
        spoken = [re.escape(i) for i in self._infixes] + [
            f"{re.escape(p)}[{_HAN}]{re.escape(p)}" for p in self._pairs
        ]
        self._spoken = re.compile("|".join(spoken)) if spoken else None
        # doubled characters that a lexicon or knowledge word or an entry's pattern holds as
        # written (痘痘, 斑斑, 个子蹭蹭长): kept
        vocabulary = [*words, *(e.regex.pattern for e in lexicon.entries if e.regex is not None)]
        self._held = frozenset(
            w[j : j + 2] for w in vocabulary for j in range(len(w) - 1) if w[j] == w[j + 1]
        )
        cues = "".join(sorted(self._fillers | self._marks))
        # a character that may be dropped: a filler, a mark, or the first of a doubled character
        self._cue = re.compile((f"[{re.escape(cues)}]|" if cues else "") + f"([{_HAN}])(?=\\1)")

    def __call__(self, normalised: Normalised) -> Normalised:
        if self._spoken is not None and self._spoken.search(normalised.text) is not None:
            normalised = normalised.without(self._spoken_inside(normalised.text))
        text = normalised.text
        if self._cue.search(text) is None:
            return normalised
        dropped = self._dropped(text)
        return normalised.without(dropped) if dropped else normalised

    def _spoken_inside(self, text: str) -> list[int]:
        """The offsets of the infixes (老年什么斑) and pairs (小帮小助) said inside a word."""
        assert self._spoken is not None
        dropped: list[int] = []
        for match in self._spoken.finditer(text):
            start, end = match.span()
            if not (start > 0 and end < len(text) and _is_han(text[start - 1]) and _is_han(text[end])):
                continue
            if match.group() in self._infixes:
                if self._spans_a_word(text[:start], text[end:]):
                    dropped.extend(range(start, end))
            else:  # 小A小B: A and B make a word
                halves = text[start + 1] + text[end]
                if self._is_word(halves) or halves in self._words:
                    dropped.extend((start, start + 2))
        return dropped

    def _spans_a_word(self, before: str, after: str) -> bool:
        """Whether a word of the lexicons runs from the end of ``before`` into ``after``."""
        left, right = before[-(self._longest - 1) :], after[: self._longest - 1]
        joined, junction = left + right, len(left)
        return any(
            joined[i:j] in self._words
            for i in range(max(0, junction - self._longest + 1), junction)
            for j in range(junction + 1, min(len(joined), i + self._longest) + 1)
        )

    def _dropped(self, text: str) -> list[int]:
        dropped: list[int] = []
        covered: set[int] | None = None  # offsets of pairs that lie inside a lexicon string as written
        size = len(text)
        for match in self._cue.finditer(text):  # fillers, marks, and the first of doubled characters
            i = match.start()
            char = text[i]
            if char in self._fillers:
                dropped.append(i)
            elif char in self._marks and match.group(1) is None:
                if 0 < i < size - 1 and _is_han(text[i - 1]) and text[i - 1] not in self._marks:
                    following = text[i + 1]
                    if _is_han(following) and following not in self._determiners:
                        dropped.append(i)
            elif char not in _NUMERALS:
                pair = text[i : i + 2]
                if pair in self._held:
                    continue
                if not self._is_word(pair):  # no common word: a stutter (效效, 临临)
                    dropped.append(i)
                    continue
                # a common word (美美), but a lexicon word runs on from its second character (美美白)
                if covered is None:
                    covered = {p for s, e, _ in self._index.scan(text) for p in range(s, e - 1)}
                if i + 1 in covered and i not in covered:
                    dropped.append(i)
        return dropped


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff"


def _chars(terms: tuple[str, ...]) -> list[str]:
    return [t for t in terms if len(t) == 1]
