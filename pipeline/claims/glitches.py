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
  right after it (美美白: 美美 is a word, but 美白 follows). Numerals are never collapsed (一百九九).
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
        self._index = index
        self._is_word = is_word
        # doubled characters that a lexicon or knowledge word or an entry's pattern holds as
        # written (痘痘, 斑斑, 个子蹭蹭长): kept
        vocabulary = [
            *index.strings,
            *(t for k in lexicon.knowledge for t in k.terms),
            *(e.regex.pattern for e in lexicon.entries if e.regex is not None),
        ]
        self._held = frozenset(
            w[j : j + 2] for w in vocabulary for j in range(len(w) - 1) if w[j] == w[j + 1]
        )
        cues = "".join(sorted(self._fillers | self._marks))
        # a character that may be dropped: a filler, a mark, or the first of a doubled character
        self._cue = re.compile((f"[{re.escape(cues)}]|" if cues else "") + f"([{_HAN}])(?=\\1)")

    def __call__(self, normalised: Normalised) -> Normalised:
        text = normalised.text
        if self._cue.search(text) is None:
            return normalised
        dropped = self._dropped(text)
        return normalised.without(dropped) if dropped else normalised

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
