"""The records that flow between stages, and their one JSON encoding.

Records are frozen dataclasses with unit-suffixed fields and timezone-aware datetimes. They know
nothing of Kafka or ClickHouse: the same records serve the faust workers and `claimwatch analyze`.

``encode(record)`` gives compact UTF-8 JSON; ``decode(cls, data)`` parses and validates it (or an
already parsed mapping), raising :class:`RecordError` that names the bad field. Fields a record does
not know are kept in ``extra`` and written back out, so nothing a producer sent is lost.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pipeline.errors import RecordError

R = TypeVar("R")

ListingEventKind = Literal["on_shelf", "explain", "off_shelf"]
LedgerStatus = Literal["approved", "rejected", "pending"]
Severity = Literal["low", "medium", "high"]
ViolationKind = Literal["claim", "qualification", "ledger"]
Source = Literal["speech", "listing"]
Decision = Literal["confirm", "dismiss", "appeal", "rectify", "uphold", "overturn"]  # lifecycle.Action
CardStatus = Literal["draft", "approved"]

# The times a record may carry: ClickHouse's DateTime is seconds since the epoch in a UInt32, on
# 18.16 as on chdb. Outside this range clickhouse-server refuses the whole insert ("argument out of
# range") and chdb silently stores a clamped time, so a record with such a time is refused here.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A monitored live stream: who broadcasts it, for which MCN, since when."""

    stream_id: str
    anchor_id: str
    mcn_id: str
    started_at: datetime
    source: str = ""
    audio_path: str = ""  # where the stream's audio is archived (for evidence clips)
    ended_at: datetime | None = None  # set on the announcement that closes the stream
    end_reason: str = ""  # why it closed, when not as its audio ended (a live source gone, an error)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of a stream's audio: 16-bit little-endian mono PCM from ``offset_s`` on."""

    stream_id: str
    seq: int
    offset_s: float
    sample_rate_hz: int
    pcm: bytes
    final: bool = False
    # The stream's facts, so a worker can place a piece without waiting for the announcement.
    anchor_id: str = ""
    mcn_id: str = ""
    started_at: datetime | None = None
    # Seconds of the stream's audio before this piece that could not be read (damage the decoder
    # filled with silence, keeping later offsets on the container's clock; docs/speech.md).
    unreadable_before_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stream(self) -> StreamInfo | None:
        """The stream's facts carried by this piece, when it carries them."""
        if self.started_at is None or not self.mcn_id:
            return None
        return StreamInfo(self.stream_id, self.anchor_id, self.mcn_id, self.started_at)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate_hz


SENTENCE_END = re.compile(r"[。!！?？;；…\n]+")
CLAUSE_END = re.compile(r"[,，、:：]+")
PAUSE_S = 0.6  # a silence this long between two characters ends a sentence (ASR writes few stops)
# Run-on speech: Whisper writes commas but few stops in a piece of someone who never pauses, so a
# "sentence" longer than LONG_SENTENCE_S is cut further, at its commas and at gaps of CLAUSE_PAUSE_S,
# and the claim is placed in its clause (with the next one when it is shorter than SHORT_CLAUSE_S).
LONG_SENTENCE_S = 6.0
CLAUSE_PAUSE_S = 0.35
SHORT_CLAUSE_S = 1.5


@dataclass(frozen=True, slots=True)
class Sentence:
    """The sentence of a segment that holds some characters: its characters and its times."""

    start: int
    end: int
    offset_s: float
    end_offset_s: float


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """A stretch of recognised speech, times in seconds from stream start.

    ``char_starts_s``, when known, holds when each character of ``text`` was said (one per
    character, from the word alignment), so a claim can be placed in its sentence.
    """

    segment_id: str
    stream_id: str
    offset_s: float
    end_offset_s: float
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    low_confidence: bool = False
    model: str = ""
    char_starts_s: tuple[float, ...] = ()
    unreadable_before_s: float = 0.0  # from its piece (AudioChunk): its times rest on a kept clock
    extra: Mapping[str, Any] = field(default_factory=dict)

    def sentence_at(self, start: int, end: int) -> Sentence:
        """The sentence holding characters ``start``..``end``: cut at sentence punctuation and at
        pauses of ``PAUSE_S``; the whole segment when the characters' times are not known."""
        times = self.char_starts_s
        if len(times) != len(self.text):
            return Sentence(0, len(self.text), self.offset_s, self.end_offset_s)
        cuts = {m.end() for m in SENTENCE_END.finditer(self.text)}
        cuts |= {i for i in range(1, len(times)) if times[i] - times[i - 1] >= PAUSE_S}
        first, last = _around(cuts, start, end, len(self.text))
        if self._time(last) - times[first] > LONG_SENTENCE_S:  # run-on: its clause, within it
            clauses = {m.end() for m in CLAUSE_END.finditer(self.text, first, last)}
            clauses |= {i for i in range(first + 1, last) if times[i] - times[i - 1] >= CLAUSE_PAUSE_S}
            clauses = {c for c in clauses if first < c < last} | {first, last}
            first, cut = _around(clauses, start, end, last)
            if self._time(cut) - times[first] < SHORT_CLAUSE_S and cut < last:
                cut = min(c for c in clauses if c > cut)
            last = cut
        return Sentence(first, last, times[first], max(self._time(last), times[first]))

    def _time(self, char: int) -> float:
        """When character ``char`` was said (the segment's end past the last one)."""
        return self.char_starts_s[char] if char < len(self.char_starts_s) else self.end_offset_s


def _around(cuts: set[int], start: int, end: int, size: int) -> tuple[int, int]:
    """The piece between two of ``cuts`` (0 and ``size`` implied) that holds ``start``..``end``."""
    first = max((c for c in cuts if c <= start), default=0)
    last = min((c for c in cuts if c >= max(end, start + 1)), default=size)
    return first, last


@dataclass(frozen=True, slots=True)
class Qualification:
    """A licence, filing or certificate shown on a listing or held in a ledger row."""

    type: str
    number: str
    valid_to: date | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListingEvent:
    """A product card event in a live room (DESIGN.md §3.3)."""

    ts: datetime
    stream_id: str
    anchor_id: str
    mcn_id: str
    event: ListingEventKind
    listing_id: str
    title: str
    brand: str
    category: str
    product_id: str | None = None
    price: float | None = None
    qualifications: tuple[Qualification, ...] = ()
    selling_points: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One product row of an MCN's certified selection ledger (DESIGN.md §3.2)."""

    product_id: str
    mcn_id: str
    product_name: str
    brand: str
    category: str
    status: LedgerStatus
    supplier: str = ""
    reviewed_at: date | None = None
    reviewer: str = ""
    approved_claims: tuple[str, ...] = ()
    qualifications: tuple[Qualification, ...] = ()
    test_report: str = ""
    test_report_date: date | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SellingPoint:
    """One selling point of a card, and where it stands in the file it came from (row or line)."""

    line: int
    text: str


@dataclass(frozen=True, slots=True)
class Card:
    """A product's selling-point card (卖点卡): what the anchor may say about it (docs/cards.md).

    ``version`` is given by the warehouse on import (1, 2 … per product; 0 before); ``label`` is the
    version as written on the card, if any. A card is a ``draft`` until an MCN officer approves it
    (``approved_by``, ``approved_at``; ``override_reason`` when it had high findings).
    """

    mcn_id: str
    product_id: str
    points: tuple[SellingPoint, ...]
    version: int = 0
    label: str = ""
    status: CardStatus = "draft"
    source: str = ""
    imported_at: datetime | None = None
    approved_by: str = ""
    approved_at: datetime | None = None
    override_reason: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim found in a text; ``start``/``end`` are character offsets into that text."""

    category: str
    term: str
    start: int
    end: int
    severity: Severity
    rule_id: str
    legal_basis: str
    lexicon_version: str = ""
    rewrite: str | None = None
    requires: tuple[str, ...] = ()  # qualification types that make this claim lawful (efficacy)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HeldQualification:
    """A qualification a product holds, and where it was shown (``listing`` or ``ledger``)."""

    qualification: Qualification
    shown_on: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a violation rests on, as it stood when it was found (stored with the violation).

    Speech claims carry the segment, the claims heard in it and the listing on stage; checks carry
    the listing snapshot, its ledger row and how it matched, the qualifications held and the
    reason; a listing-text claim names the field it was found in.
    """

    reason: str = ""
    listing: ListingEvent | None = None
    ledger_row: LedgerEntry | None = None
    matched_by: str | None = None
    match_score: float | None = None
    held: tuple[HeldQualification, ...] = ()
    claims: tuple[Claim, ...] = ()
    segment: TranscriptSegment | None = None
    listing_field: str | None = None  # title or selling_points, for a claim in listing text
    asr_low_confidence: bool = False
    # A speech violation after damaged audio: seconds unreadable earlier in the stream (its times
    # were kept on the container's clock across them; docs/speech.md). 0 for sound audio.
    unreadable_before_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Violation:
    """A compliance violation (DESIGN.md §3.4); ``event_id`` is deterministic."""

    event_id: str
    stream_id: str
    anchor_id: str
    mcn_id: str
    kind: ViolationKind
    category: str
    severity: Severity
    ts: datetime
    offset_s: float
    end_offset_s: float
    source: Source
    listing_id: str | None = None
    product_id: str | None = None
    text: str = ""
    term: str = ""  # as it stands in the text: for speech, what the recogniser wrote (每白)
    # the claim the term was read as, when it was heard through an ASR homophone or glitch (美白
    # for 每白, 美白 for 美呃白); "" when the term is the claim as written
    read_as: str = ""
    rule_id: str = ""
    legal_basis: str = ""
    lexicon_version: str = ""
    rewrite: str | None = None
    evidence: Evidence = field(default_factory=Evidence)
    # said of a product whose approved selling-point card does not make this claim (docs/cards.md)
    off_card: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Review:
    """A reviewer's decision on a violation."""

    review_id: str
    violation_id: str
    reviewer: str
    decision: Decision
    reviewed_at: datetime
    reason: str = ""
    # an attachment of an appeal or rectification (pipeline.console.attachments): its SHA-256 (the
    # stored file's name), the uploader's file name (shown only), its media type and size
    attachment_sha256: str = ""
    attachment_name: str = ""
    attachment_type: str = ""
    attachment_bytes: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message a stage could not process, with the reason and its original bytes."""

    topic: str
    reason: str
    payload: bytes
    ts: datetime
    key: bytes | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Encoding


def to_dict(record: Any) -> dict[str, Any]:
    """The JSON-ready mapping of a record; ``extra`` fields are merged back at the top level."""
    out: dict[str, Any] = dict(getattr(record, "extra", {}))
    for f in dataclasses.fields(record):
        if f.name != "extra":
            out[f.name] = _jsonable(getattr(record, f.name))
    return out


def encode(record: Any) -> bytes:
    """Compact UTF-8 JSON of a record (the one encoding used on topics and in files)."""
    return json.dumps(to_dict(record), ensure_ascii=False, separators=(",", ":")).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def decode(cls: type[R], data: bytes | str | Mapping[str, Any]) -> R:
    """Parse and validate a record; raises RecordError naming the bad field."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"not valid JSON ({exc})") from None
        except RecursionError:
            raise RecordError("not valid JSON (nested too deeply)") from None
    return typing.cast(R, _decode_dataclass(cls, data, ""))


def _decode_dataclass(cls: type[Any], data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise RecordError(f"expected an object, got {type(data).__name__}", field=path or None)
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            continue
        where = f"{path}.{f.name}" if path else f.name
        if f.name in data and not (data[f.name] is None and _is_optional(hints[f.name])):
            values[f.name] = _convert(hints[f.name], data[f.name], where)
        elif f.name in data:
            values[f.name] = None
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RecordError("is required", field=where)
    known = {f.name for f in dataclasses.fields(cls)}
    extra = {k: v for k, v in data.items() if k not in known}
    if "extra" in known:
        values["extra"] = extra
    record = cls(**values)
    check = _CHECKS.get(cls)
    if check is not None:
        check(record, path)
    return record


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _convert(tp: Any, value: Any, path: str) -> Any:  # noqa: PLR0911, PLR0912
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return None
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return _convert(inner, value, path)
    if origin is Literal:
        if value not in get_args(tp):
            allowed = ", ".join(repr(a) for a in get_args(tp))
            raise RecordError(f"{value!r} is not one of {allowed}", field=path)
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecordError(f"expected a list, got {type(value).__name__}", field=path)
        (inner, _ellipsis) = get_args(tp)
        return tuple(_convert(inner, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is Mapping or tp is Mapping:
        if not isinstance(value, Mapping):
            raise RecordError(f"expected an object, got {type(value).__name__}", field=path)
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(typing.cast(type[Any], tp), value, path)
    if tp is datetime:
        return parse_datetime(value, path)
    if tp is date:
        return parse_date(value, path)
    if tp is bytes:
        return _parse_bytes(value, path)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecordError(f"expected a number, got {value!r}", field=path)
        if not math.isfinite(value):
            raise RecordError("must be a finite number", field=path)
        return float(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise RecordError(f"expected true or false, got {value!r}", field=path)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"expected an integer, got {value!r}", field=path)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise RecordError(f"expected a string, got {type(value).__name__}", field=path)
        if _SURROGATE.search(value):  # JSON may escape one ("\\ud800"); UTF-8 cannot hold it
            raise RecordError("is not valid Unicode (a lone surrogate)", field=path)
        return value
    return value  # Any


def parse_datetime(value: Any, path: str = "ts") -> datetime:
    """An ISO 8601 time with a UTC offset (naive times are ambiguous and refused)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RecordError(f"{value!r} is not an ISO 8601 time", field=path) from None
    else:
        raise RecordError(f"expected an ISO 8601 time, got {type(value).__name__}", field=path)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RecordError(f"{value!r} has no UTC offset (write e.g. +08:00)", field=path)
    if not EARLIEST_TIME <= parsed < LATEST_TIME + timedelta(seconds=1):
        raise RecordError(
            f"{parsed.isoformat()} is outside the range the warehouse can store "
            f"({EARLIEST_TIME.isoformat()} .. {LATEST_TIME.isoformat()})",
            field=path,
        )
    return parsed


def parse_date(value: Any, path: str) -> date:
    """A calendar date written YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise RecordError(f"expected a date YYYY-MM-DD, got {type(value).__name__}", field=path)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise RecordError(f"{value!r} is not a date YYYY-MM-DD", field=path) from None


def _parse_bytes(value: Any, path: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise RecordError("expected base64 text", field=path)
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise RecordError("is not valid base64", field=path) from None


# ---------------------------------------------------------------------------------------------
# What the records taken in at the edge must hold beyond their types

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls but tab, newline and carriage return; and the bidirectional marks, embeddings,
# overrides and isolates, which make a title read otherwise than its characters ("Trojan source")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def check_text(value: str, path: str) -> str:
    """``value`` when it holds no control character a reader could be misled by; else RecordError."""
    found = _CONTROL.search(value)
    if found:
        raise RecordError(
            f"contains the control character U+{ord(found.group()):04X} at position {found.start()} "
            "(NUL, escape and bidirectional controls hide or reorder what a reader sees)",
            field=path,
        )
    return value


def _field(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# The ids that name a tenant, an anchor or a stream: shown in pages and charts, keyed in URLs and
# archive paths. Letters (any script) and digits with - _ . : @ +, at most 128: no markup, no
# path separator, no space or control character.
IDENTIFIER = re.compile(r"[\w.:@+-]{1,128}")
_IDENTIFIERS = ("stream_id", "anchor_id", "mcn_id")


def _check_ids(record: Any, path: str, *names: str) -> None:
    for name in names:
        if not getattr(record, name).strip():
            raise RecordError("is empty", field=_field(path, name))
    for name in _IDENTIFIERS:
        value = getattr(record, name, "")
        if value and not IDENTIFIER.fullmatch(value):
            raise RecordError(
                f"{value[:40]!r} is not an id (letters, digits and - _ . : @ +, at most 128)",
                field=_field(path, name),
            )


def _check_texts(record: Any, path: str) -> None:
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str):
            check_text(value, _field(path, f.name))


def _check_stream(record: StreamInfo | AudioChunk, path: str) -> None:
    _check_ids(record, path, "stream_id")
    _check_texts(record, path)


def _check_listing(event: ListingEvent, path: str) -> None:
    _check_ids(event, path, "stream_id", "mcn_id", "listing_id")
    _check_texts(event, path)
    for index, qualification in enumerate(event.qualifications):
        _check_texts(qualification, f"{_field(path, 'qualifications')}[{index}]")
    if event.price is not None and event.price < 0:
        raise RecordError(f"{event.price:g} is negative (a price is 0 or more)", field=_field(path, "price"))


# Checks of the records producers send in (the edge), run by ``decode`` after the type checks.
_CHECKS: dict[type[Any], Callable[[Any, str], None]] = {
    StreamInfo: _check_stream,
    AudioChunk: _check_stream,
    ListingEvent: _check_listing,
}


def stable_id(*parts: object) -> str:
    """A deterministic id from the parts that identify an event (same input, same id)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
