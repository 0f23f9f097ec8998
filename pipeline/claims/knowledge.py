"""Knowledge as data: the vocabularies behind the claim categories (``lexicons/knowledge/*.yaml``).

A knowledge file names its sources and holds named lists of terms: the diseases and symptoms a
product may not be presented as treating, the health functions that need a registration, the
cosmetics efficacy classes, the state bodies and the words of endorsement. Each list becomes a
regular-expression macro (``{CONDITION}``) that lexicon entries use, so that widening what the
detector knows is an edit of data, and every list says where its words come from.

A file looks like::

    name: conditions
    version: "1.0.0"
    description: ...
    sources:
      NAME10: {title: 《化妆品命名指南》, issuer: 原国家食品药品监督管理局, date: 2010-02, url: ...}
      COMMON: {title: common usage, note: our additions from ordinary usage}
    lists:
      DISEASE:
        note: diseases named outright
        sources: [NAME10, COMMON]
        terms: [高血压, 糖尿病, ...]
        asr: true        # also read through homophones in speech (将血压 heard for 降血压)
      MORPH_READING:
        note: what anchors say instead of a word, and the word it stands for
        sources: [AMR]
        readings: {小糖人: 糖尿病患者, 免某力: 免疫力}   # instead of terms: each term with its reading

Everything is checked when the lexicon loads (:class:`~pipeline.errors.LexiconError` naming the
file and the list): unknown keys, a list without sources or naming a source the file does not
describe, empty or duplicated terms, a list name that is not an upper-case macro name, an ``asr``
that is not true or false, a list with both ``terms`` and ``readings`` (or neither), a reading that
is empty or the term itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import LexiconError

_FILE_KEYS = frozenset({"name", "version", "description", "sources", "lists", "note"})
_SOURCE_KEYS = frozenset({"title", "issuer", "date", "url", "note"})
_LIST_KEYS = frozenset({"asr", "note", "sources", "terms", "readings"})
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class TermList:
    """One named list of a knowledge file: its terms (normalised) and where they come from."""

    name: str
    terms: tuple[str, ...]
    sources: tuple[str, ...]
    file: str
    # whether speech is read for these words through homophones too (names of diseases and
    # symptoms, which a recogniser garbles: 唐尿病, 高血鸭); off for lists of common words
    asr: bool = False
    # for a list of readings: each term with the word it stands for (小糖人 → 糖尿病患者), in the
    # order of ``terms``; empty for a list of terms
    readings: tuple[str, ...] = ()

    @property
    def pattern(self) -> str:
        """The terms as one regular expression, longest first, factored by common prefixes."""
        return trie_pattern(self.terms)


def parse_knowledge(data: Mapping[str, Any], where: str, normalise: Callable[[str], str]) -> list[TermList]:
    """The lists of one knowledge file (already read as YAML), validated."""
    _check_keys(data, _FILE_KEYS, where)
    for key in ("name", "version", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LexiconError(f"{where}: {key}: expected a non-empty string")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise LexiconError(f"{where}: sources: expected a mapping of source ids to their descriptions")
    for key, source in sources.items():
        if not isinstance(source, dict) or not isinstance(source.get("title"), str):
            raise LexiconError(f"{where}: sources: {key}: expected a mapping with a title")
        _check_keys(source, _SOURCE_KEYS, f"{where}: sources: {key}")
    lists = data.get("lists")
    if not isinstance(lists, dict) or not lists:
        raise LexiconError(f"{where}: lists: expected a mapping of NAME to a list")
    return [_term_list(name, raw, set(sources), where, normalise) for name, raw in lists.items()]


def _term_list(name: Any, raw: Any, known: set[str], where: str, normalise: Callable[[str], str]) -> TermList:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LexiconError(f"{where}: lists: {name!r} is not an upper-case name")
    here = f"{where}: list {name}"
    if not isinstance(raw, dict):
        raise LexiconError(f"{here}: expected a mapping with sources and terms")
    _check_keys(raw, _LIST_KEYS, here)
    cited = raw.get("sources")
    if not isinstance(cited, list) or not cited or not all(isinstance(s, str) for s in cited):
        raise LexiconError(f"{here}: sources: expected a non-empty list of source ids")
    unknown = sorted(set(cited) - known)
    if unknown:
        raise LexiconError(f"{here}: sources: {', '.join(unknown)} not described under sources")
    if ("terms" in raw) == ("readings" in raw):
        raise LexiconError(f"{here}: expected either terms or readings")
    readings: list[str] = []
    if "readings" in raw:
        terms, readings = _readings(raw["readings"], here, normalise)
    else:
        terms = raw["terms"]
    if not isinstance(terms, list) or not terms or not all(isinstance(t, str) and t.strip() for t in terms):
        raise LexiconError(f"{here}: terms: expected a non-empty list of non-empty strings")
    normalised = [normalise(t.strip()) for t in terms]
    doubled = sorted({t for t in normalised if normalised.count(t) > 1})
    if doubled:
        raise LexiconError(f"{here}: terms: listed twice: {', '.join(doubled)}")
    asr = raw.get("asr", False)
    if not isinstance(asr, bool):
        raise LexiconError(f"{here}: asr: expected true or false, got {asr!r}")
    return TermList(name, tuple(normalised), tuple(cited), where, asr, tuple(readings))


def _readings(raw: Any, here: str, normalise: Callable[[str], str]) -> tuple[list[str], list[str]]:
    """The terms and their readings of a ``readings`` mapping (term: reading), normalised."""
    if not isinstance(raw, dict) or not raw:
        raise LexiconError(f"{here}: readings: expected a non-empty mapping of each term to its reading")
    terms, readings = [], []
    for said, meant in raw.items():
        if not isinstance(said, str) or not said.strip():
            raise LexiconError(f"{here}: readings: {said!r}: expected a non-empty string")
        if not isinstance(meant, str) or not meant.strip():
            raise LexiconError(f"{here}: readings: {said}: expected the word it stands for, got {meant!r}")
        term, reading = normalise(said.strip()), normalise(meant.strip())
        if term == reading:
            raise LexiconError(f"{here}: readings: {term}: reads as itself")
        terms.append(term)
        readings.append(reading)
    return terms, readings


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed, key=str)
    if unknown:
        raise LexiconError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")


def trie_pattern(terms: Iterable[str]) -> str:
    """An alternation of ``terms`` that tries no prefix twice (高血压|高血糖 → 高血(?:压|糖)), so a
    regex over hundreds of words stays fast; longer words are tried before their prefixes.

    Where the words start with many different characters, a look-ahead for the set of them comes
    first: Python's ``re`` tries the branches of an alternation one by one at every position, and
    one look-up in a character set says most positions start none of them."""
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}
    pattern = _pattern(trie)
    firsts = sorted(char for char in trie if char)
    if len(firsts) >= _LOOKAHEAD_FROM and "" not in trie:
        return f"(?=[{''.join(_in_set(c) for c in firsts)}]){pattern}"
    return pattern


_LOOKAHEAD_FROM = 8  # first characters from which a look-ahead pays


def _in_set(char: str) -> str:
    """``char`` as a member of a character set."""
    return "\\" + char if char in "\\]^-[" else char


def _pattern(node: Mapping[str, Any]) -> str:
    ends = "" in node
    branches = [re.escape(char) + _pattern(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    if ends:
        return f"(?:{body})?"
    return body
