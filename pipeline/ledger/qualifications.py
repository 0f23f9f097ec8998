"""Qualification rules (DESIGN.md §3.5): which categories need which licences, and number formats.

The rules are data in ``lexicons/qualifications.yaml``; :func:`load_rules` reads and validates them
(every pattern compiles and matches its own example, every category names known types) and raises
:class:`LexiconError` naming the file, entry and reason otherwise.

Numbers are compared and validated after :func:`normalise_number`: real numbers are typed with
full-width brackets, digits and letters (``国妆网备进字（京）２０２１…``) and stray spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from pipeline.config import LEXICON_DIR
from pipeline.errors import LexiconError
from pipeline.legal_basis import MISSING_CHINESE, has_chinese
from pipeline.records import Qualification, Severity, ViolationKind

RULES_FILE = "qualifications.yaml"
QualificationState = Literal["valid", "expired", "invalid", "unknown_type"]

_BRACKETS = str.maketrans(
    {"【": "(", "】": ")", "〔": "(", "〕": ")", "［": "(", "］": ")", "[": "(", "]": ")"}
)
_SPACE = re.compile(r"\s+")
_SEVERITIES = ("low", "medium", "high")
_KINDS = ("claim", "qualification", "ledger")
CHECKS = (
    "off_ledger",
    "ledger_not_approved",
    "missing_qualification",
    "expired_qualification",
    "invalid_qualification",
    "efficacy_without_registration",
)


def normalise_number(number: str) -> str:
    """The canonical form of a qualification number: NFKC, brackets as (), no spaces, upper ASCII."""
    text = unicodedata.normalize("NFKC", number).translate(_BRACKETS)
    text = _SPACE.sub("", text)
    return "".join(c.upper() if c.isascii() else c for c in text)


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """One accepted shape of a qualification number (domestic, imported…)."""

    name: str
    pattern: re.Pattern[str]
    example: str


@dataclass(frozen=True, slots=True)
class QualificationType:
    """A kind of licence, filing, registration or certificate."""

    name: str
    description: str
    legal_basis: str
    formats: tuple[NumberFormat, ...]

    def fits(self, number: str) -> bool:
        """Whether the (raw) number fits one of this type's formats."""
        canonical = normalise_number(number)
        return any(f.pattern.fullmatch(canonical) for f in self.formats)


@dataclass(frozen=True, slots=True)
class Requirement:
    """A category's need for one qualification: any of ``any_of`` satisfies it."""

    any_of: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """A product category (DESIGN.md §3.5) and what it requires."""

    name: str
    description: str
    requires: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class CheckRule:
    """How a listing/ledger check reports: its violation kind, severity, rule id and legal basis."""

    name: str
    kind: ViolationKind
    severity: Severity
    rule_id: str
    legal_basis: str


@dataclass(frozen=True, slots=True)
class QualificationRules:
    """The loaded, validated contents of ``qualifications.yaml``."""

    version: str
    types: Mapping[str, QualificationType]
    categories: Mapping[str, CategoryRule]
    checks: Mapping[str, CheckRule]

    def requirements(self, *categories: str) -> tuple[Requirement, ...]:
        """The requirements of the given categories together (unknown categories require nothing)."""
        seen: dict[Requirement, None] = {}
        for name in categories:
            rule = self.categories.get(name)
            for req in rule.requires if rule else ():
                seen.setdefault(req)
        return tuple(seen)

    def state(self, qualification: Qualification, at: date | datetime) -> QualificationState:
        """Whether a qualification is valid at a time: known type, well-formed number, not expired."""
        qtype = self.types.get(qualification.type)
        if qtype is None:
            return "unknown_type"
        if not qtype.fits(qualification.number):
            return "invalid"
        return "expired" if is_expired(qualification, at) else "valid"


def is_expired(qualification: Qualification, at: date | datetime) -> bool:
    """Expired when ``valid_to`` is before the day of ``at`` (valid through its last day).

    A qualification without ``valid_to`` is not known to be expired. A datetime is taken in its
    own offset, i.e. the local date of the event.
    """
    if qualification.valid_to is None:
        return False
    day = at.date() if isinstance(at, datetime) else at
    return qualification.valid_to < day


def expires_within(qualification: Qualification, at: date, days: int) -> bool:
    """Still valid at ``at`` but expiring within ``days`` days of it."""
    if qualification.valid_to is None or is_expired(qualification, at):
        return False
    return (qualification.valid_to - at).days <= days


# ---------------------------------------------------------------------------------------------
# Loading and validation


def default_rules_path() -> Path:
    """``lexicons/qualifications.yaml`` of this checkout."""
    return LEXICON_DIR / RULES_FILE


def load_rules(path: str | Path | None = None) -> QualificationRules:
    """Read and validate the qualification rules (a file, a lexicon directory, or the default)."""
    where = Path(path) if path is not None else default_rules_path()
    if where.is_dir():
        where = where / RULES_FILE
    try:
        raw = yaml.safe_load(where.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise LexiconError(f"{where}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise LexiconError(f"{where}: not UTF-8 ({exc.reason})") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: dates like 2026-02-30
        raise LexiconError(f"{where}: not valid YAML ({exc})") from None
    return _Loader(str(where)).rules(raw)


class _Loader:
    """Validates the parsed YAML, naming the file and entry in every error."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.provinces = ""

    def fail(self, entry: str, reason: str) -> LexiconError:
        return LexiconError(f"{self.source}: {entry}: {reason}")

    def rules(self, raw: Any) -> QualificationRules:
        top = self.mapping(raw, "top level")
        self.provinces = self.text(top, "provinces", "top level")
        types = {
            name: self.qtype(name, body)
            for name, body in self.mapping(top.get("qualification_types"), "qualification_types").items()
        }
        categories = {
            name: self.category(name, body, types)
            for name, body in self.mapping(top.get("categories"), "categories").items()
        }
        checks = {
            name: self.check(name, body) for name, body in self.mapping(top.get("checks"), "checks").items()
        }
        missing = [name for name in CHECKS if name not in checks]
        if missing:
            raise self.fail("checks", f"missing {', '.join(missing)}")
        return QualificationRules(str(top.get("version", "")), types, categories, checks)

    def mapping(self, value: Any, entry: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping) or not value:
            raise self.fail(entry, "expected a non-empty mapping")
        return cast(Mapping[str, Any], value)

    def text(self, body: Mapping[str, Any], key: str, entry: str) -> str:
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(entry, f"{key!r} must be a non-empty string")
        return value.strip()

    def legal_basis(self, body: Mapping[str, Any], entry: str) -> str:
        text = self.text(body, "legal_basis", entry)
        if not has_chinese(text):
            raise self.fail(entry, f"{MISSING_CHINESE}; got {text[:80]!r}")
        return text

    def qtype(self, name: str, body: Any) -> QualificationType:
        entry = f"qualification_types.{name}"
        fields = self.mapping(body, entry)
        formats = fields.get("formats")
        if not isinstance(formats, list) or not formats:
            raise self.fail(entry, "'formats' must be a non-empty list")
        return QualificationType(
            name,
            self.text(fields, "description", entry),
            self.legal_basis(fields, entry),
            tuple(self.number_format(f"{entry}.formats[{i}]", f) for i, f in enumerate(formats)),
        )

    def number_format(self, entry: str, body: Any) -> NumberFormat:
        fields = self.mapping(body, entry)
        source = self.text(fields, "pattern", entry).replace("%PROVINCE%", f"[{self.provinces}]")
        example = str(fields.get("example", "")).strip()
        try:
            pattern = re.compile(source)
        except (re.error, OverflowError, RecursionError) as exc:
            raise self.fail(entry, f"pattern does not compile ({exc})") from None
        if not example or not pattern.fullmatch(normalise_number(example)):
            raise self.fail(entry, f"example {example!r} does not match its pattern")
        return NumberFormat(self.text(fields, "name", entry), pattern, example)

    def category(self, name: str, body: Any, types: Mapping[str, QualificationType]) -> CategoryRule:
        entry = f"categories.{name}"
        fields = self.mapping(body, entry)
        requires = fields.get("requires")
        if not isinstance(requires, list):
            raise self.fail(entry, "'requires' must be a list (empty when nothing is required)")
        return CategoryRule(
            name,
            self.text(fields, "description", entry),
            tuple(self.requirement(f"{entry}.requires[{i}]", r, types) for i, r in enumerate(requires)),
        )

    def requirement(self, entry: str, body: Any, types: Mapping[str, QualificationType]) -> Requirement:
        any_of = self.mapping(body, entry).get("any_of")
        if not isinstance(any_of, list) or not any_of:
            raise self.fail(entry, "'any_of' must be a non-empty list of qualification types")
        unknown = [t for t in any_of if not isinstance(t, str) or t not in types]
        if unknown:
            raise self.fail(entry, f"unknown qualification type(s) {', '.join(map(str, unknown))}")
        return Requirement(tuple(str(t) for t in any_of))

    def check(self, name: str, body: Any) -> CheckRule:
        entry = f"checks.{name}"
        fields = self.mapping(body, entry)
        kind = self.choice(fields, "kind", _KINDS, entry)
        severity = self.choice(fields, "severity", _SEVERITIES, entry)
        return CheckRule(
            name,
            cast(ViolationKind, kind),
            cast(Severity, severity),
            self.text(fields, "rule_id", entry),
            self.legal_basis(fields, entry),
        )

    def choice(self, fields: Mapping[str, Any], key: str, allowed: Iterable[str], entry: str) -> str:
        value = fields.get(key)
        if value not in tuple(allowed):
            raise self.fail(entry, f"{key!r} must be one of {', '.join(allowed)}, got {value!r}")
        return str(value)
