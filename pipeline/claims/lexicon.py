"""Lexicons as data: loading and validating ``lexicons/*.yaml``.

``claims.yaml`` holds the version, the list of category files, the knowledge files whose term
lists become macros (:mod:`pipeline.claims.knowledge`), the regular-expression macros (``{NUM}``)
and the global context rules; each category file holds the entries of one category.
Other YAML files in the directory (qualification rules, scoring weights) are not ours to read. Everything is
checked at load time: a malformed file raises :class:`LexiconError` naming the file, the entry and
the reason, so a bad edit fails at start-up rather than silently matching nothing.

The schema is described in docs/claims.md; in short an entry is::

    - rule_id: ABS-MOST            # stable: alerts, reviews and statistics refer to it
      terms: [最]                  # or words: / tokens: / regex: (exactly one)
      severity: medium             # defaults to the file's
      not_when: [{after: '^近'}]   # contexts in which it is not a claim
      needs: [{sentence: '价'}]    # contexts it needs to be a claim
      extend: '[一-龥]{1,2}'     # report more than the match (最 → 最好用)
      rewrite: 很受欢迎            # a compliant wording to suggest
      requires: [...]              # efficacy: qualification types that make it lawful
      examples: [...]              # utterances it must flag (checked by the tests)
      not_claims: [...]            # utterances it must not flag (checked by the tests)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from pipeline.claims.conditions import PARTS, Condition, ContextRule
from pipeline.claims.knowledge import TermList, parse_knowledge
from pipeline.errors import LexiconError
from pipeline.legal_basis import require_chinese
from pipeline.records import Severity

CATEGORIES = ("absolute", "price", "medical", "efficacy", "guarantee", "authority", "superstition")
QUALIFICATION_TYPES = frozenset(
    {
        "cosmetics_filing",
        "cosmetics_special_registration",
        "food_production_license",
        "health_food_registration",
        "health_food_filing",
        "infant_formula_registration",
        "medical_device_registration",
        "medical_device_filing",
        "ccc",
    }
)
MANIFEST = "claims.yaml"
MatchKind = Literal["terms", "words", "tokens", "regex"]
_KINDS: tuple[MatchKind, ...] = ("terms", "words", "tokens", "regex")
_ENTRY_KEYS = frozenset(
    {"rule_id", "category", "severity", "legal_basis", "keywords", "not_when", "needs", "rewrite"}
    | {"requires", "examples", "not_claims", "note", "asr", "extend", "keywords_needed"}
    | set(_KINDS)
)
_FILE_KEYS = frozenset({"category", "severity", "legal_basis", "entries", "note"})
_MANIFEST_KEYS = frozenset({"version", "files", "knowledge", "macros", "contexts", "note"})
_CONDITION_KEYS = frozenset({*PARTS, "quoted"})
_RULE_KEYS = frozenset({"id", "description", "categories", *_CONDITION_KEYS})
_MACRO = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
Normalise = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon entry: how to match it, in what context it is a claim, and what it means."""

    rule_id: str
    category: str
    severity: Severity
    legal_basis: str
    kind: MatchKind
    terms: tuple[str, ...]  # normalised; for kind terms and words
    tokens: tuple[tuple[dict[str, Any], ...], ...]  # spaCy Matcher patterns; for kind tokens
    regex: re.Pattern[str] | None  # for kind regex; an optional group `term` marks the claim
    keywords: tuple[str, ...]  # one of them occurs in every match (a cheap trigger; ASR words)
    not_when: tuple[Condition, ...]
    needs: tuple[Condition, ...]
    rewrite: str | None
    requires: tuple[str, ...]
    examples: tuple[str, ...]
    not_claims: tuple[str, ...]
    extend: re.Pattern[str] | None  # matched right after a match: the reported term runs on
    asr: bool  # may its words be recognised through homophones in speech?
    source: str
    keywords_needed: int = 1  # a regex entry runs only where this many different keywords occur
    # the keywords speech is read for through homophones, where not all of them (None: all); a
    # keyword list named from a knowledge list not marked asr is not
    heard_keywords: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Lexicon:
    """All entries and global context rules of a lexicon directory, with its version."""

    version: str
    entries: tuple[Entry, ...]
    contexts: tuple[ContextRule, ...]
    directory: Path
    knowledge: tuple[TermList, ...] = ()


def load_lexicon(directory: Path, normalise: Normalise) -> Lexicon:
    """Load and validate every lexicon file under ``directory``."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise LexiconError(f"{manifest_path}: no such file (every lexicon directory needs one)")
    digest = hashlib.sha256()
    manifest = _read(manifest_path, digest)
    _check_keys(manifest, _MANIFEST_KEYS, f"{manifest_path}")
    version = _text(manifest.get("version"), f"{manifest_path}: version")
    knowledge = _knowledge(directory, manifest, digest, normalise)
    macros = _macros(manifest.get("macros") or {}, manifest_path, {k.name: k.pattern for k in knowledge})
    lists = {k.name: k.terms for k in knowledge}
    contexts = _contexts(manifest.get("contexts") or [], macros, manifest_path)
    entries: list[Entry] = []
    for name in _strings(manifest.get("files"), f"{manifest_path}: files"):
        path = directory / name
        if not path.is_file():
            raise LexiconError(f"{manifest_path}: files: {name}: no such file in {directory}")
        entries.extend(
            _entries(
                path,
                _read(path, digest),
                _Vocabulary(macros, lists, normalise, frozenset(k.name for k in knowledge if not k.asr)),
            )
        )
    if not entries:
        raise LexiconError(f"{manifest_path}: files: expected at least one category file")
    _check_unique(entries)
    return Lexicon(f"{version}+{digest.hexdigest()[:8]}", tuple(entries), contexts, directory, knowledge)


def _knowledge(
    directory: Path, manifest: dict[str, Any], digest: Any, normalise: Normalise
) -> tuple[TermList, ...]:
    """The term lists of the knowledge files the manifest names, each a macro by its list name."""
    lists: list[TermList] = []
    for name in _strings(manifest.get("knowledge"), f"{directory / MANIFEST}: knowledge"):
        path = directory / name
        if not path.is_file():
            raise LexiconError(f"{directory / MANIFEST}: knowledge: {name}: no such file in {directory}")
        lists.extend(parse_knowledge(_read(path, digest), str(path), normalise))
    names = [k.name for k in lists]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise LexiconError(f"{directory / MANIFEST}: knowledge: list(s) {', '.join(doubled)} defined twice")
    return tuple(lists)


def _read(path: Path, digest: Any) -> dict[str, Any]:
    raw = path.read_bytes()
    digest.update(path.name.encode() + b"\0" + raw)
    try:
        data = yaml.safe_load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise LexiconError(f"{path}: not UTF-8 ({exc.reason})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise LexiconError(f"{path}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except (ValueError, RecursionError) as exc:  # PyYAML builds dates like 2026-13-45 and fails
        raise LexiconError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: expected a mapping at the top level")
    return cast(dict[str, Any], data)


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed, key=str)
    if unknown:
        raise LexiconError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LexiconError(f"{where}: expected a non-empty string")
    return value.strip()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(f"{where}: expected a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _macros(raw: Any, path: Path, known: Mapping[str, str]) -> dict[str, str]:
    """The manifest's macros, each expanded; ``known`` (the knowledge lists) come first."""
    if not isinstance(raw, dict):
        raise LexiconError(f"{path}: macros: expected a mapping of NAME: regex")
    macros: dict[str, str] = dict(known)
    for name, value in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise LexiconError(f"{path}: macros: {name!r} is not an upper-case name")
        if name in known:
            raise LexiconError(f"{path}: macros: {name} is already a knowledge list")
        macros[name] = _expand(_text(value, f"{path}: macros: {name}"), macros, f"{path}: macro {name}")
        _compile(macros[name], f"{path}: macro {name}")
    return macros


def _expand(pattern: str, macros: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in macros:
            raise LexiconError(f"{where}: unknown macro {{{match.group(1)}}}")
        return f"(?:{macros[match.group(1)]})"

    return _MACRO.sub(replace, pattern)


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError) as exc:
        raise LexiconError(f"{where}: invalid regular expression ({exc})") from None


def _condition(raw: Any, macros: Mapping[str, str], where: str, *, rule: bool = False) -> Condition:
    """A condition; ``rule``: a global context rule, whose id, description, categories sit beside it."""
    if not isinstance(raw, dict) or not raw:
        raise LexiconError(f"{where}: expected a mapping of {', '.join(PARTS)} or quoted")
    if not rule:
        _check_keys(raw, _CONDITION_KEYS, where)
    quoted = raw.get("quoted")
    if quoted is not None and not isinstance(quoted, bool):
        raise LexiconError(f"{where}: quoted: expected true or false")
    patterns = tuple(
        (part, _compile(_expand(_text(raw[part], f"{where}: {part}"), macros, where), f"{where}: {part}"))
        for part in PARTS
        if part in raw
    )
    if not patterns and quoted is None:
        raise LexiconError(f"{where}: a condition needs at least one of {', '.join(PARTS)}, quoted")
    return Condition(patterns, quoted)


def _conditions(raw: Any, macros: Mapping[str, str], where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise LexiconError(f"{where}: expected a list of conditions")
    return tuple(_condition(item, macros, f"{where}[{i}]") for i, item in enumerate(raw))


def _contexts(raw: Any, macros: Mapping[str, str], path: Path) -> tuple[ContextRule, ...]:
    if not isinstance(raw, list):
        raise LexiconError(f"{path}: contexts: expected a list of rules")
    rules: list[ContextRule] = []
    for i, item in enumerate(raw):
        where = f"{path}: contexts[{i}]"
        if not isinstance(item, dict):
            raise LexiconError(f"{where}: expected a mapping")
        _check_keys(item, _RULE_KEYS, where)
        rule_id = _text(item.get("id"), f"{where}: id")
        where = f"{path}: context {rule_id}"
        categories = _strings(item.get("categories"), f"{where}: categories")
        _check_categories(categories, where)
        description = _text(item.get("description"), f"{where}: description")
        when = _condition(item, macros, where, rule=True)
        rules.append(ContextRule(rule_id, description, frozenset(categories), when))
    return tuple(rules)


def _check_categories(categories: tuple[str, ...], where: str) -> None:
    for category in categories:
        if category not in CATEGORIES:
            raise LexiconError(f"{where}: unknown category {category!r} (one of {', '.join(CATEGORIES)})")


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """What entries are written with: the macros, the knowledge lists, the normaliser."""

    macros: Mapping[str, str]
    lists: Mapping[str, tuple[str, ...]]
    normalise: Normalise
    unheard: frozenset[str] = frozenset()  # the lists not marked asr: true


def _entries(path: Path, data: dict[str, Any], vocab: _Vocabulary) -> list[Entry]:
    _check_keys(data, _FILE_KEYS, str(path))
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise LexiconError(f"{path}: entries: expected a non-empty list")
    defaults: dict[str, Any] = {k: data[k] for k in ("category", "severity", "legal_basis") if k in data}
    entries = []
    for i, raw in enumerate(raw_entries):
        name = raw.get("rule_id") if isinstance(raw, dict) else None
        where = f"{path}: entry {i + 1}" + (f" ({name})" if isinstance(name, str) else "")
        if not isinstance(raw, dict):
            raise LexiconError(f"{where}: expected a mapping")
        entries.append(_entry({**defaults, **raw}, vocab, where, path.name))
    return entries


def _entry(raw: dict[str, Any], vocab: _Vocabulary, where: str, source: str) -> Entry:
    _check_keys(raw, _ENTRY_KEYS, where)
    rule_id = _text(raw.get("rule_id"), f"{where}: rule_id")
    if not _RULE_ID.match(rule_id):
        raise LexiconError(f"{where}: rule_id {rule_id!r} must look like ABS-MOST (upper case, dashes)")
    category = _text(raw.get("category"), f"{where}: category")
    _check_categories((category,), where)
    severity = raw.get("severity")
    if severity not in ("low", "medium", "high"):
        raise LexiconError(f"{where}: severity must be low, medium or high, not {severity!r}")
    macros = vocab.macros
    kind, terms, tokens, regex = _matching(raw, vocab, where)
    # a keyword may name a knowledge list ({SYMPTOM_NAME}: every one of its terms is a keyword)
    raw_keywords = _strings(raw.get("keywords"), f"{where}: keywords")
    listed = [_listed(k, vocab, where) for k in raw_keywords]
    keywords = tuple(dict.fromkeys(k for terms in listed for k in terms))
    # the keywords speech is read for: not those of a list that is not read through homophones
    unheard = {
        k
        for item, terms in zip(raw_keywords, listed, strict=True)
        if _named(item) in vocab.unheard
        for k in terms
    }
    heard = tuple(k for k in keywords if k not in unheard) if unheard else None
    if kind in ("tokens", "regex") and not keywords:
        raise LexiconError(f"{where}: a {kind} entry needs keywords (words every match contains)")
    requires = _strings(raw.get("requires"), f"{where}: requires")
    _check_requires(category, requires, where)
    asr = raw.get("asr", True)
    if not isinstance(asr, bool):
        raise LexiconError(f"{where}: asr: expected true or false")
    needed = raw.get("keywords_needed", 1)
    if not isinstance(needed, int) or isinstance(needed, bool) or needed < 1:
        raise LexiconError(f"{where}: keywords_needed: expected a whole number of at least 1")
    if needed > 1 and kind != "regex":
        raise LexiconError(f"{where}: keywords_needed: only for regex entries")
    rewrite = raw.get("rewrite")
    extend = raw.get("extend")
    return Entry(
        rule_id=rule_id,
        category=category,
        severity=cast(Severity, severity),
        legal_basis=require_chinese(_text(raw.get("legal_basis"), f"{where}: legal_basis"), where),
        kind=kind,
        terms=terms,
        tokens=tokens,
        regex=regex,
        keywords=keywords or terms,
        not_when=_conditions(raw.get("not_when"), macros, f"{where}: not_when"),
        needs=_conditions(raw.get("needs"), macros, f"{where}: needs"),
        rewrite=_text(rewrite, f"{where}: rewrite") if rewrite is not None else None,
        requires=requires,
        examples=_strings(raw.get("examples"), f"{where}: examples"),
        not_claims=_strings(raw.get("not_claims"), f"{where}: not_claims"),
        extend=_compile(_expand(_text(extend, f"{where}: extend"), macros, where), f"{where}: extend")
        if extend is not None
        else None,
        asr=asr,
        source=source,
        keywords_needed=needed,
        heard_keywords=heard,
    )


def _matching(
    raw: dict[str, Any], vocab: _Vocabulary, where: str
) -> tuple[MatchKind, tuple[str, ...], tuple[tuple[dict[str, Any], ...], ...], re.Pattern[str] | None]:
    given = [kind for kind in _KINDS if kind in raw]
    if len(given) != 1:
        raise LexiconError(
            f"{where}: needs exactly one of terms, words, tokens, regex (has {given or 'none'})"
        )
    kind = given[0]
    if kind in ("terms", "words"):
        items = _strings(raw[kind], f"{where}: {kind}")
        terms = tuple(dict.fromkeys(t for item in items for t in _listed(item, vocab, where)))
        if not terms or not all(terms):
            raise LexiconError(f"{where}: {kind}: expected at least one non-empty string")
        return kind, terms, (), None
    if kind == "regex":
        text = _text(raw["regex"], f"{where}: regex")
        regex = _compile(_expand(text, vocab.macros, where), f"{where}: regex")
        if regex.search(""):
            raise LexiconError(f"{where}: regex matches the empty string")
        return kind, (), (), regex
    return kind, (), _token_patterns(raw["tokens"], where), None


def _named(item: str) -> str | None:
    """The knowledge list an item names as ``{LIST}``, or None."""
    named = _MACRO.fullmatch(item)
    return named.group(1) if named else None


def _listed(item: str, vocab: _Vocabulary, where: str) -> tuple[str, ...]:
    """A term, or every term of a knowledge list named as ``{LIST}``."""
    named = _MACRO.fullmatch(item)
    if named is None:
        return (vocab.normalise(item),)
    if named.group(1) not in vocab.lists:
        raise LexiconError(f"{where}: {item} is not a knowledge list")
    return vocab.lists[named.group(1)]


def _token_patterns(raw: Any, where: str) -> tuple[tuple[dict[str, Any], ...], ...]:
    patterns = [raw] if isinstance(raw, list) and raw and isinstance(raw[0], dict) else raw
    if not isinstance(patterns, list) or not patterns:
        raise LexiconError(f"{where}: tokens: expected a spaCy Matcher pattern (a list of token specs)")
    for pattern in patterns:
        if not isinstance(pattern, list) or not pattern or not all(isinstance(t, dict) for t in pattern):
            raise LexiconError(f"{where}: tokens: each pattern must be a non-empty list of token specs")
    return tuple(tuple(pattern) for pattern in patterns)


def _check_requires(category: str, requires: tuple[str, ...], where: str) -> None:
    unknown = [r for r in requires if r not in QUALIFICATION_TYPES]
    if unknown:
        raise LexiconError(f"{where}: requires: unknown qualification type(s) {', '.join(unknown)}")
    if category == "efficacy" and not requires:
        raise LexiconError(
            f"{where}: an efficacy entry must say which qualifications make it lawful (requires)"
        )
    if category != "efficacy" and requires:
        raise LexiconError(f"{where}: requires is only for efficacy entries")


def _check_unique(entries: list[Entry]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.rule_id in seen:
            raise LexiconError(
                f"{entry.source}: entry {entry.rule_id}: rule_id already used in {seen[entry.rule_id]}"
            )
        seen[entry.rule_id] = entry.source
