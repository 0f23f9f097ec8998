"""Finding candidate claims in a normalised text, before context decides.

Four kinds of lexicon entries, four ways of matching:

- ``terms``: literal strings found anywhere, character by character (segmentation cannot hide them);
- ``words``: literal strings that must be whole jieba tokens, matched by spaCy's ``PhraseMatcher``
  (第一 in 销量第一, not in 第一次);
- ``tokens``: spaCy ``Matcher`` patterns over the jieba tokens;
- ``regex``: regular expressions over the characters, for claims with a structure (原价…只要…).

One pass of a :class:`TermIndex` over the text finds every literal string of the lexicon (terms,
words and the keywords of the other entries). Texts with none are done; the spaCy ``Doc`` is only
built when a ``words`` or ``tokens`` entry could match, and a regular expression only runs when one
of its keywords occurs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from pipeline.claims.lexicon import Entry, Lexicon
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
        by_first: dict[str, list[str]] = {}
        for string in sorted(set(strings), key=lambda s: (-len(s), s)):
            by_first.setdefault(string[0], []).append(string)
        self._by_first = {first: tuple(strings) for first, strings in by_first.items()}

    def scan(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        by_first = self._by_first
        for i, char in enumerate(text):
            strings = by_first.get(char)
            if strings:
                hits.extend((i, i + len(s), s) for s in strings if text.startswith(s, i))
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

    def find(self, text: str, hits: list[Hit]) -> list[Candidate]:
        """Candidates for ``text``, given the :class:`TermIndex` hits in it."""
        found: list[Candidate] = []
        triggered: dict[str, Entry] = {}
        for start, end, string in hits:
            found.extend(Candidate(entry, start, end) for entry in self._terms.get(string, ()))
            for entry in self._triggers.get(string, ()):
                triggered[entry.rule_id] = entry
        needs_doc = False
        for entry in triggered.values():
            if entry.kind == "regex":
                found.extend(self._regex(entry, text))
            else:
                needs_doc = True
        if needs_doc:
            found.extend(self._in_doc(self._nlp.make_doc(text), set(triggered)))
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
