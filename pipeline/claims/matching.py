"""Finding candidate claims in a normalised text, before context decides.

Four kinds of lexicon entries, four ways of matching:

- ``terms``: literal strings found anywhere, character by character (segmentation cannot hide them);
- ``words``: literal strings that must be whole jieba tokens, matched by spaCy's ``PhraseMatcher``
  (第一 in 销量第一, not in 第一次);
- ``tokens``: spaCy ``Matcher`` patterns over the jieba tokens;
- ``regex``: regular expressions over the characters, for claims with a structure (原价…只要…).

One pass of a :class:`TermIndex` over the text finds every literal string of the lexicon (terms,
words and the keywords of the other entries). Texts with none are done; a spaCy ``Doc`` is only
built for the runs of words (between punctuation) where a ``words`` or ``tokens`` entry could
match, and a regular expression only runs when one of its keywords occurs. Token patterns
therefore match within one run of words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from pipeline.claims.lexicon import Entry, Lexicon
from pipeline.claims.segment import Segmentation
from pipeline.errors import LexiconError

Hit = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A match of a lexicon entry at ``[start, end)`` of the normalised text."""

    entry: Entry
    start: int
    end: int


def literal_strings(lexicon: Lexicon) -> set[str]:
    """Every literal string of a lexicon: terms, words and keywords (jieba's user words too)."""
    return {s for entry in lexicon.entries for s in (*entry.terms, *entry.keywords)}


class TermIndex:
    """Every literal string of a lexicon, found in one pass over a text (overlaps included)."""

    def __init__(self, strings: Iterable[str]) -> None:
        self._strings = frozenset(strings)
        lengths: dict[str, set[int]] = {}
        for string in self._strings:
            lengths.setdefault(string[0], set()).add(len(string))
        # per first character, the lengths of the strings that start with it, longest first
        self._lengths = {first: tuple(sorted(ls, reverse=True)) for first, ls in lengths.items()}

    def scan(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        lengths, strings, size = self._lengths, self._strings, len(text)
        for i in [i for i, char in enumerate(text) if char in lengths]:
            for n in lengths[text[i]]:
                if i + n <= size and text[i : i + n] in strings:
                    hits.append((i, i + n, text[i : i + n]))
        return hits


class CandidateFinder:
    """Matches all entries of a lexicon; see the module docstring for how each kind matches."""

    def __init__(self, lexicon: Lexicon, nlp: Language) -> None:
        self._nlp = nlp
        self._by_rule = {entry.rule_id: entry for entry in lexicon.entries}
        self._terms: dict[str, list[Entry]] = {}
        self._triggers: dict[str, list[Entry]] = {}
        self._phrases = PhraseMatcher(nlp.vocab)
        self._tokens = Matcher(nlp.vocab, validate=True)
        for entry in lexicon.entries:
            self._add(entry)
        self.index = TermIndex([*self._terms, *self._triggers])

    def _add(self, entry: Entry) -> None:
        if entry.kind == "terms":
            for term in entry.terms:
                self._terms.setdefault(term, []).append(entry)
            return
        for keyword in entry.keywords:
            self._triggers.setdefault(keyword, []).append(entry)
        try:
            if entry.kind == "words":
                self._phrases.add(entry.rule_id, [self._nlp.make_doc(t) for t in entry.terms])
            elif entry.kind == "tokens":
                self._tokens.add(entry.rule_id, [list(p) for p in entry.tokens])
        except ValueError as exc:  # spaCy's MatchPatternError is a ValueError
            raise LexiconError(f"{entry.source}: entry {entry.rule_id}: tokens: {exc}") from None

    def find(
        self, segmentation: Segmentation, hits: list[Hit], near: list[tuple[int, int]] | None = None
    ) -> list[Candidate]:
        """Candidates for a text (seen through its segmentation), given its :class:`TermIndex` hits.

        A term is found on characters, inside a word too (美白 in 美白霜), but never cutting
        through one: 长高 is not in 生长高度 (生长|高度), nor 断根 in 断根据地. With ``near``, only
        terms and words overlapping one of those spans are looked at (regular expressions still
        run on the whole text).
        """
        text = segmentation.text
        found: list[Candidate] = []
        triggered: dict[str, Entry] = {}
        in_tokens: list[int] = []  # where words / tokens entries were triggered
        for start, end, string in hits:
            if near is not None and not any(s < end and start < e for s, e in near):
                for entry in self._triggers.get(string, ()):
                    if entry.kind == "regex":
                        triggered[entry.rule_id] = entry
                continue
            entries = self._terms.get(string, ())
            if entries and (end - start < 2 or not segmentation.cuts_through(start, end)):
                found.extend(Candidate(entry, start, end) for entry in entries)
            for entry in self._triggers.get(string, ()):
                triggered[entry.rule_id] = entry
                if entry.kind != "regex":
                    in_tokens.append(start)
        for entry in triggered.values():
            if entry.kind == "regex":
                found.extend(self._regex(entry, text))
        for start, _ in segmentation.runs_with(in_tokens):
            for c in self._in_doc(segmentation.doc((start, _)), set(triggered)):
                found.append(Candidate(c.entry, c.start + start, c.end + start))
        return _outermost(found)

    @staticmethod
    def _regex(entry: Entry, text: str) -> Iterable[Candidate]:
        assert entry.regex is not None
        marked = "term" in entry.regex.groupindex
        for match in entry.regex.finditer(text):
            start, end = match.span("term") if marked and match.group("term") is not None else match.span()
            if end > start:
                yield Candidate(entry, start, end)

    def _in_doc(self, doc: Doc, triggered: set[str]) -> Iterable[Candidate]:
        strings = self._nlp.vocab.strings
        for matcher in (self._phrases, self._tokens):
            if not len(matcher):
                continue
            matches = matcher(doc)
            for match_id, first, last in matches:
                rule_id = strings[match_id]
                if rule_id in triggered:
                    span = doc[first:last]
                    yield Candidate(self._by_rule[rule_id], span.start_char, span.end_char)


def _outermost(candidates: list[Candidate]) -> list[Candidate]:
    """Drop matches of an entry that lie inside a longer match of the same entry (最低 in 全网最低价)."""
    if len(candidates) < 2:
        return candidates
    return [c for c in candidates if not any(_inside(c, o) for o in candidates)]


def _inside(inner: Candidate, outer: Candidate) -> bool:
    """Whether ``inner`` is a shorter match of the same entry within ``outer``."""
    return (
        inner.entry is outer.entry
        and outer.start <= inner.start
        and inner.end <= outer.end
        and outer.end - outer.start > inner.end - inner.start
    )
