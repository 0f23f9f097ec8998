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
from collections.abc import Callable
from dataclasses import dataclass, field

# Breaks between clauses and between sentences: runs of punctuation (or spaces), and a full stop
# unless it sits between letters or digits (3.5, no.1). The full stop is one branch, "not after a
# letter or digit, or not before one": it matches exactly where the two branches
# (?<![0-9a-z])\.|\.(?![0-9a-z]) would, and is tried once.
_STOP = r"\.(?:(?<![0-9a-z]\.)|(?![0-9a-z]))"
_CLAUSE_BREAK = re.compile(r"[,，。!！?？;；:：、~～…\s]+|" + _STOP)
_SENTENCE_BREAK = re.compile(r"[。!！?？;；\n]+|" + _STOP)
# the characters a break can start with: a text with none is one piece, and one quick scan says so
# (most utterances are a single sentence)
_CLAUSE_CHARS = re.compile(r"[,，。!！?？;；:：、~～…\s.]")
_SENTENCE_CHARS = re.compile(r"[。!！?？;；\n.]")
_Search = Callable[[str], "re.Match[str] | None"]
_QUOTES = {"'": "'", '"': '"', "‘": "’", "“": "”", "「": "」", "『": "』", "《": "》"}


@dataclass(frozen=True, slots=True)
class _Cut:
    """Pieces of a text: the start of each piece and the end of its content (before the break)."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, pattern: re.Pattern[str], text: str, chars: re.Pattern[str] | None = None) -> _Cut:
        """The pieces ``pattern`` cuts ``text`` into, in one pass: each break ends the piece it is
        in and starts the next (unless it ends the text); a text always has a first piece.
        ``chars`` finds a character every break starts with (a text without one is one piece)."""
        if chars is not None and chars.search(text) is None:
            return cls((0,), (len(text),))
        starts, ends = [0], []
        for match in pattern.finditer(text):
            ends.append(match.start())
            if match.end() < len(text):
                starts.append(match.end())
        if len(ends) < len(starts):
            ends.append(len(text))
        return cls(tuple(starts), tuple(ends))

    def index(self, pos: int) -> int:
        i = bisect_right(self.starts, pos) - 1
        return i if i > 0 else 0

    def bounds(self, i: int) -> tuple[int, int]:
        return self.starts[i], self.ends[i]


class Layout:
    """The sentences and clauses of one normalised text, cut when first asked for."""

    __slots__ = ("_clauses", "_sentence_tests", "_sentences", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._clauses: _Cut | None = None
        self._sentences: _Cut | None = None
        self._sentence_tests: dict[tuple[int, str], bool] = {}  # see sentence_test

    @property
    def clauses(self) -> _Cut:
        if self._clauses is None:
            self._clauses = _Cut.of(_CLAUSE_BREAK, self.text, _CLAUSE_CHARS)
        return self._clauses

    @property
    def sentences(self) -> _Cut:
        if self._sentences is None:
            self._sentences = _Cut.of(_SENTENCE_BREAK, self.text, _SENTENCE_CHARS)
        return self._sentences

    def span(self, start: int, end: int) -> Span:
        return Span(self, start, end)

    def sentence_test(self, search: _Search, sentence: str) -> bool:
        """Whether ``search`` finds something in ``sentence``, asked once per sentence.

        Every candidate of a sentence is tested against the same sentence-wide rules (their
        patterns are the longest of the lexicon), and a third of these tests repeat one already
        made for another candidate of the same sentence."""
        key = (id(search), sentence)
        found = self._sentence_tests.get(key)
        if found is None:
            found = self._sentence_tests[key] = search(sentence) is not None
        return found


class Span:
    """A candidate claim at ``[start, end)`` of a layout's text, with its surroundings cut once."""

    __slots__ = ("_parts", "end", "layout", "start")

    def __init__(self, layout: Layout, start: int, end: int) -> None:
        self.layout = layout
        self.start = start
        self.end = end
        self._parts: dict[str, str] | None = None

    def part(self, name: str) -> str:
        """One named piece of context: before, after, clause, sentence, previous/next_clause, and
        clause_mark (the mark that ends the clause: ？ for a question, empty at the end of the text)."""
        return self.parts[name]

    @property
    def parts(self) -> dict[str, str]:
        """Every named piece of context (:data:`PARTS`), cut together when first asked for.

        Every candidate is tested against all global context rules, which between them look at
        nearly every part, so cutting them all at once costs less than cutting each on demand."""
        if self._parts is None:
            self._parts = self._cut()
        return self._parts

    def _cut(self) -> dict[str, str]:
        # bisect_right(starts, pos) - 1 is the piece holding pos (starts[0] == 0 <= pos), as
        # _Cut.index, which this runs for every candidate and so inlines
        text, clauses, sentences = self.layout.text, self.layout.clauses, self.layout.sentences
        start, end = self.start, self.end
        c_starts, c_ends = clauses.starts, clauses.ends
        i = bisect_right(c_starts, start) - 1
        c_start, c_end = c_starts[i], c_ends[i]
        clause_end = c_end if c_end > end else end  # a match may run past its clause's end
        j = bisect_right(c_starts, end - 1 if end - 1 > start else start)  # the clause after the last
        k = bisect_right(sentences.starts, start) - 1
        s_end = sentences.ends[k]
        return {
            "before": text[c_start:start],
            "after": text[end:clause_end],
            "clause": text[c_start:clause_end],
            "sentence": text[sentences.starts[k] : s_end if s_end > end else end],
            "previous_clause": text[c_starts[i - 1] : c_ends[i - 1]] if i > 0 else "",
            "next_clause": text[c_starts[j] : c_ends[j]] if j < len(c_starts) else "",
            "clause_mark": text[clause_end : clause_end + 1],
        }

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


PARTS = ("before", "after", "clause", "sentence", "previous_clause", "next_clause", "clause_mark")


_Test = tuple[str, _Search, bool]


@dataclass(frozen=True, slots=True)
class Condition:
    """A context test: every regular expression it names must be found in its part of the text."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()
    quoted: bool | None = None
    # per pattern: its part, its search, and whether it is found in an empty part (a fifth of
    # the parts tested are empty: a match at the start or end of its clause, a lone clause)
    _tests: tuple[_Test, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tests = tuple(
            (part, pattern.search, pattern.search("") is not None) for part, pattern in self.patterns
        )
        object.__setattr__(self, "_tests", tests)  # frozen: set once, here

    def holds(self, span: Span) -> bool:
        parts = span.parts
        for part, search, in_empty in self._tests:
            text = parts[part]
            if not text:
                found = in_empty
            elif part == "sentence":
                found = span.layout.sentence_test(search, text)
            else:
                found = search(text) is not None
            if not found:
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
