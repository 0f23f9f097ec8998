"""Where a candidate claim sits in its utterance, and the context conditions tested against it.

A :class:`Layout` cuts a normalised text into sentences (。！？; and line breaks) and clauses
(sentences cut further at commas, colons, spaces…). A :class:`Span` is one candidate seen through
that layout: the text before it in its clause, the text after it, the whole clause, the whole
sentence, and its neighbouring clauses.

A :class:`Condition` is one context test as written in a lexicon (``before``, ``after``,
``clause``, ``sentence``, ``previous_clause``, ``next_clause`` regular expressions, ``quoted``);
it holds when every part it names holds. Lexicon entries list conditions under ``not_when`` (any
one that holds makes the match not a claim) and ``needs`` (one must hold for it to be a claim);
the global rules in ``claims.yaml`` are conditions with an id and a list of categories.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

_CLAUSE_BREAK = re.compile(r"[,，。!！?？;；:：、~～…\s]+|(?<![0-9a-z])\.|\.(?![0-9a-z])")
_SENTENCE_BREAK = re.compile(r"[。!！?？;；\n]+|(?<![0-9a-z])\.|\.(?![0-9a-z])")
_QUOTES = {"'": "'", '"': '"', "‘": "’", "“": "”", "「": "」", "『": "』", "《": "》"}


def _pieces(pattern: re.Pattern[str], text: str) -> tuple[int, ...]:
    """Start offsets of the pieces ``pattern`` cuts ``text`` into (always starts with 0)."""
    starts = [0]
    starts.extend(m.end() for m in pattern.finditer(text) if m.end() < len(text))
    return tuple(starts)


@dataclass(frozen=True, slots=True)
class _Cut:
    """Pieces of a text: the start of each piece and the end of its content (before the break)."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, pattern: re.Pattern[str], text: str) -> _Cut:
        starts = _pieces(pattern, text)
        ends = []
        for i, start in enumerate(starts):
            limit = starts[i + 1] if i + 1 < len(starts) else len(text)
            match = pattern.search(text, start, limit)
            ends.append(match.start() if match else limit)
        return cls(starts, tuple(ends))

    def index(self, pos: int) -> int:
        i = bisect_right(self.starts, pos) - 1
        return i if i > 0 else 0

    def bounds(self, i: int) -> tuple[int, int]:
        return self.starts[i], self.ends[i]


class Layout:
    """The sentences and clauses of one normalised text."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def clauses(self) -> _Cut:
        return _Cut.of(_CLAUSE_BREAK, self.text)

    @cached_property
    def sentences(self) -> _Cut:
        return _Cut.of(_SENTENCE_BREAK, self.text)

    def span(self, start: int, end: int) -> Span:
        return Span(self, start, end)


class Span:
    """A candidate claim at ``[start, end)`` of a layout's text, with lazily cut surroundings."""

    __slots__ = ("_clause", "_parts", "end", "layout", "start")

    def __init__(self, layout: Layout, start: int, end: int) -> None:
        self.layout = layout
        self.start = start
        self.end = end
        self._parts: dict[str, str] = {}
        self._clause = -1

    def part(self, name: str) -> str:
        """One named piece of context: before, after, clause, sentence, previous/next_clause."""
        cut = self._parts.get(name)
        if cut is None:
            cut = self._parts[name] = self._cut(name)
        return cut

    def _cut(self, name: str) -> str:
        text, clauses = self.layout.text, self.layout.clauses
        if self._clause < 0:
            self._clause = clauses.index(self.start)
        i = self._clause
        c_start, c_end = clauses.bounds(i)
        if name == "before":
            return text[c_start : self.start]
        if name == "after":
            return text[self.end : max(c_end, self.end)]
        if name == "clause":
            return text[c_start : max(c_end, self.end)]
        if name == "previous_clause":
            return text[slice(*clauses.bounds(i - 1))] if i > 0 else ""
        if name == "next_clause":
            j = clauses.index(max(self.end - 1, self.start)) + 1
            return text[slice(*clauses.bounds(j))] if j < len(clauses.starts) else ""
        sentences = self.layout.sentences
        s_start, s_end = sentences.bounds(sentences.index(self.start))
        return text[s_start : max(s_end, self.end)]

    def quoted(self) -> bool:
        """Whether the span lies inside a pair of quotation marks within its sentence."""
        sentences = self.layout.sentences
        s_start, s_end = sentences.bounds(sentences.index(self.start))
        before = self.layout.text[s_start : self.start]
        after = self.layout.text[self.end : s_end]
        for opening, closing in _QUOTES.items():
            if opening == closing:
                if before.count(opening) % 2 == 1 and closing in after:
                    return True
            elif before.rfind(opening) > before.rfind(closing) and closing in after:
                return True
        return False


PARTS = ("before", "after", "clause", "sentence", "previous_clause", "next_clause")


@dataclass(frozen=True, slots=True)
class Condition:
    """A context test: every regular expression it names must be found in its part of the text."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()
    quoted: bool | None = None

    def holds(self, span: Span) -> bool:
        for part, pattern in self.patterns:
            if pattern.search(span.part(part)) is None:
                return False
        return self.quoted is None or span.quoted() == self.quoted


@dataclass(frozen=True, slots=True)
class ContextRule:
    """A global context rule from claims.yaml: where it holds, a match is not a claim."""

    rule_id: str
    description: str
    categories: frozenset[str]
    when: Condition

    def applies(self, category: str, span: Span) -> bool:
        return (not self.categories or category in self.categories) and self.when.holds(span)
