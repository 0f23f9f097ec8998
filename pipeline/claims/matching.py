"""Finding candidate claims in a normalised text, before context decides.

Four kinds of lexicon entries, four ways of matching:

- ``terms``: literal strings found anywhere, character by character (segmentation cannot hide them);
- ``words``: literal strings that must be whole jieba tokens: found like terms, kept where the
  text's segmentation has token boundaries at both ends (第一 in 销量第一, not in 第一次);
- ``tokens``: spaCy ``Matcher`` patterns over the jieba tokens;
- ``regex``: regular expressions over the characters, for claims with a structure (原价…只要…).

One pass of a :class:`TermIndex` over the text finds every literal string of the lexicon (terms,
words and the keywords of the other entries). Texts with none are done; jieba only segments the
runs of words (between punctuation) where a ``words`` entry matched, a spaCy ``Doc`` is only built
for the runs where a ``tokens`` entry could match, and a regular expression only runs when one of
its keywords occurs. Token patterns therefore match within one run of words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import Matcher
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


@dataclass(frozen=True, slots=True)
class _Meaning:
    """What one string of the term index stands for, looked up once per hit."""

    terms: tuple[Entry, ...]  # the terms entries it is a string of
    words: tuple[Entry, ...]  # the words entries it is a string of
    triggers: dict[str, Entry]  # the entries it is a keyword of, by rule id, in lexicon order
    regex_triggers: dict[str, Entry]  # those of them that are regex entries
    token_trigger: bool  # whether one of them is matched over tokens (not a regex entry)


def literal_strings(lexicon: Lexicon) -> set[str]:
    """Every literal string of a lexicon: terms, words and keywords (jieba's user words too)."""
    return {s for entry in lexicon.entries for s in (*entry.terms, *entry.keywords)}


class TermIndex:
    """Every literal string of a lexicon, found in one pass over a text (overlaps included)."""

    def __init__(self, strings: Iterable[str]) -> None:
        self._strings = frozenset(strings)
        self._firsts = frozenset(string[0] for string in self._strings)
        self._singles = frozenset(string for string in self._strings if len(string) == 1)
        lengths: dict[str, set[int]] = {}
        for string in self._strings:
            if len(string) > 1:
                lengths.setdefault(string[:2], set()).add(len(string))
        # per first two characters, the lengths of the strings (of two or more) that start with
        # them, longest first: far fewer to try than per first character alone
        self._lengths = {pair: tuple(sorted(ls, reverse=True)) for pair, ls in lengths.items()}

    @property
    def strings(self) -> frozenset[str]:
        """Every string the index finds."""
        return self._strings

    def scan(self, text: str) -> list[Hit]:
        """Every occurrence of every string, by start and then longest first."""
        hits: list[Hit] = []
        firsts, singles, strings, size = self._firsts, self._singles, self._strings, len(text)
        pairs = self._lengths
        for i, char in enumerate(text):
            if char not in firsts:
                continue
            lengths = pairs.get(text[i : i + 2])
            if lengths is not None:
                for n in lengths:
                    if i + n <= size and (string := text[i : i + n]) in strings:
                        hits.append((i, i + n, string))
            if char in singles:
                hits.append((i, i + 1, char))
        return hits


class CandidateFinder:
    """Matches all entries of a lexicon; see the module docstring for how each kind matches."""

    def __init__(self, lexicon: Lexicon, nlp: Language) -> None:
        self._nlp = nlp
        self._by_rule = {entry.rule_id: entry for entry in lexicon.entries}
        self._terms: dict[str, list[Entry]] = {}
        self._words: dict[str, list[Entry]] = {}
        self._triggers: dict[str, list[Entry]] = {}
        self._tokens = Matcher(nlp.vocab, validate=True)
        for entry in lexicon.entries:
            self._add(entry)
        self.index = TermIndex([*self._terms, *self._words, *self._triggers])
        self._meaning = {string: self._meaning_of(string) for string in self.index.strings}
        # the keywords of the entries that need several of them in a text before they run
        self._keyword_sets = {
            e.rule_id: frozenset(e.keywords) for e in lexicon.entries if e.keywords_needed > 1
        }
        # whether each regex entry marks its claim with a group ``term`` (else the whole match)
        self._marked = {
            e.rule_id: e.regex is not None and "term" in e.regex.groupindex for e in lexicon.entries
        }

    def _meaning_of(self, string: str) -> _Meaning:
        triggers = {entry.rule_id: entry for entry in self._triggers.get(string, ())}
        return _Meaning(
            terms=tuple(self._terms.get(string, ())),
            words=tuple(self._words.get(string, ())),
            triggers=triggers,
            regex_triggers={rule_id: e for rule_id, e in triggers.items() if e.kind == "regex"},
            token_trigger=any(e.kind != "regex" for e in triggers.values()),
        )

    def _add(self, entry: Entry) -> None:
        if entry.kind in ("terms", "words"):
            for term in entry.terms:
                (self._terms if entry.kind == "terms" else self._words).setdefault(term, []).append(entry)
            return
        for keyword in entry.keywords:
            self._triggers.setdefault(keyword, []).append(entry)
        try:
            if entry.kind == "tokens":
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
        meaning = self._meaning
        for start, end, string in hits:
            m = meaning[string]
            if near is not None and not any(s < end and start < e for s, e in near):
                triggered.update(m.regex_triggers)
                continue
            if m.terms and (end - start < 2 or not segmentation.cuts_through(start, end)):
                found.extend([Candidate(entry, start, end) for entry in m.terms])
            if m.words and segmentation.aligned(start, end):
                found.extend([Candidate(entry, start, end) for entry in m.words])
            if m.triggers:
                triggered.update(m.triggers)  # a rule id already there keeps its place
                if m.token_trigger:
                    in_tokens.append(start)
        self._regexes(triggered.values(), text, hits, found)
        if in_tokens:
            for start, _ in segmentation.runs_with(in_tokens):
                for c in self._in_doc(segmentation.doc((start, _)), set(triggered)):
                    found.append(Candidate(c.entry, c.start + start, c.end + start))
        return _outermost(found)

    def _regexes(
        self, triggered: Iterable[Entry], text: str, hits: list[Hit], found: list[Candidate]
    ) -> None:
        """Run the triggered regex entries; one that needs several keywords only where they occur."""
        strings: set[str] | None = None  # the strings hit, for entries that need several keywords
        for entry in triggered:
            if entry.kind != "regex":
                continue
            if entry.keywords_needed > 1:
                strings = strings if strings is not None else {string for _, _, string in hits}
                if len(strings & self._keyword_sets[entry.rule_id]) < entry.keywords_needed:
                    continue
            self._regex(entry, text, found)

    def _regex(self, entry: Entry, text: str, found: list[Candidate]) -> None:
        """Add the matches of a regex entry (its group ``term`` where it has one and it took part)."""
        assert entry.regex is not None
        if not self._marked[entry.rule_id]:
            found.extend(
                [
                    Candidate(entry, m.start(), m.end())
                    for m in entry.regex.finditer(text)
                    if m.end() > m.start()
                ]
            )
            return
        for match in entry.regex.finditer(text):
            start, end = match.span("term") if match.group("term") is not None else match.span()
            if end > start:
                found.append(Candidate(entry, start, end))

    def _in_doc(self, doc: Doc, triggered: set[str]) -> Iterable[Candidate]:
        strings = self._nlp.vocab.strings
        for match_id, first, last in self._tokens(doc):
            rule_id = strings[match_id]
            if rule_id in triggered:
                span = doc[first:last]
                yield Candidate(self._by_rule[rule_id], span.start_char, span.end_char)


def _outermost(candidates: list[Candidate]) -> list[Candidate]:
    """Drop matches of an entry that lie inside a longer match of the same entry (最低 in 全网最低价)."""
    if len(candidates) < 2:
        return candidates
    # only matches of one entry can hold one another: compare within each entry's matches
    by_entry: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_entry.setdefault(id(c.entry), []).append(c)
    if len(by_entry) == len(candidates):
        return candidates
    return [c for c in candidates if not any(_inside(c, o) for o in by_entry[id(c.entry)])]


def _inside(inner: Candidate, outer: Candidate) -> bool:
    """Whether ``inner`` is a shorter match of the same entry within ``outer``."""
    return (
        inner.entry is outer.entry
        and outer.start <= inner.start
        and inner.end <= outer.end
        and outer.end - outer.start > inner.end - inner.start
    )
