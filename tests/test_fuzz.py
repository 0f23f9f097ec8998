"""Every external input, fuzzed: it is accepted, or refused with one of ClaimWatch's own errors.

Inputs: listing JSON lines (``records.decode``, ``jsonl.read_records``), ledger files (CSV, JSONL
and generated XLSX through ``ledger.read_ledger``), lexicon and qualification-rule YAML
(``claims.lexicon.load_lexicon``, ``qualifications.load_rules``) and audio bytes
(``audio.decode_pcm``). Each is fed arbitrary data and near-valid data (real files with bytes
changed), and must end in its result or a :class:`pipeline.errors.ClaimWatchError` subclass with a
message; never another exception, never a hang. The console's HTTP parameters are fuzzed in
tests/console/test_fuzz_http.py.
"""

from __future__ import annotations

import json
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.claims.lexicon import load_lexicon
from pipeline.claims.normalize import Normaliser
from pipeline.config import PROJECT_ROOT
from pipeline.errors import AudioError, ClaimWatchError, LexiconError, RecordError
from pipeline.jsonl import read_records
from pipeline.ledger.files import COLUMNS, read_ledger
from pipeline.ledger.qualifications import QualificationRules, load_rules
from pipeline.records import AudioChunk, LedgerEntry, ListingEvent, StreamInfo, TranscriptSegment, decode
from pipeline.speech.audio import DecodeOptions, decode_pcm

T = TypeVar("T")
LEXICONS = PROJECT_ROOT / "lexicons"
SAMPLE = PROJECT_ROOT / "pipeline" / "sample"
AUDIO = Path(__file__).resolve().parent / "data" / "audio"
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
LISTING_FIELDS = [
    *("ts", "stream_id", "anchor_id", "mcn_id", "event", "listing_id", "product_id", "title"),
    *("brand", "category", "price", "qualifications", "selling_points"),
]
VALID_LISTING: dict[str, Any] = json.loads(
    (SAMPLE / "listings.jsonl").read_text(encoding="utf-8").splitlines()[0]
)


@st.composite
def listing_like(draw: st.DrawFn) -> dict[str, Any]:
    """A listing event with some fields dropped and some replaced by arbitrary JSON."""
    record = dict(VALID_LISTING)
    for name in draw(st.lists(st.sampled_from(LISTING_FIELDS), unique=True, max_size=5)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(json_values)
    return record


Edit = tuple[int, str, bytes]
edits = st.lists(
    st.tuples(
        st.integers(0, 1 << 20),
        st.sampled_from(["replace", "delete", "insert", "truncate"]),
        st.binary(min_size=1, max_size=16),
    ),
    min_size=1,
    max_size=8,
)


def mutated(original: bytes, changes: list[Edit]) -> bytes:
    """``original`` with a few bytes replaced, deleted or inserted, or cut short (the edits are
    drawn, not the bytes, so a failing example prints short)."""
    data = bytearray(original)
    for position, action, payload in changes:
        if not data:
            break
        at = position % len(data)
        if action == "replace":
            data[at : at + len(payload)] = payload
        elif action == "delete":
            del data[at : at + 1 + payload[0] % 64]
        elif action == "insert":
            data[at:at] = payload
        else:
            del data[at:]
    return bytes(data)


def edited(original: bytes) -> st.SearchStrategy[bytes]:
    return edits.map(lambda changes: mutated(original, changes))


@contextmanager
def written(data: bytes, name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        yield path


def refused_cleanly(call: Callable[[], T], errors: type[ClaimWatchError] = ClaimWatchError) -> T | None:
    """The call's result, or None when it raised ``errors`` with a message; anything else fails."""
    try:
        return call()
    except errors as exc:
        refusal: ClaimWatchError = exc
    assert str(refusal).strip(), f"{type(refusal).__name__} without a message"
    return None


@pytest.fixture(scope="module")
def rules() -> QualificationRules:
    return load_rules(LEXICONS)


# ---------------------------------------------------------------------------------------------
# Listing events


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
@example(data=b"[" * 100_000)
@example(data=b'{"ts": "2026-11-20T20:00:00+99:00"}')
@example(data=json.dumps({**VALID_LISTING, "ts": "9999-12-31T23:59:59-23:59"}).encode())
def test_listing_bytes_decode_or_raise_record_error(data: bytes) -> None:
    refused_cleanly(lambda: decode(ListingEvent, data), RecordError)


@pytest.mark.parametrize("kind", [StreamInfo, AudioChunk, TranscriptSegment, LedgerEntry])
@settings(FUZZ, max_examples=60)
@given(value=json_values)
def test_topic_records_decode_or_raise_record_error(kind: type, value: Any) -> None:
    """What the workers read off the topics: any JSON is a record or a RecordError."""
    refused_cleanly(lambda: decode(kind, json.dumps(value)), RecordError)


@FUZZ
@given(record=listing_like())
def test_listing_fields_decode_or_raise_record_error(record: dict[str, Any]) -> None:
    event = refused_cleanly(lambda: decode(ListingEvent, json.dumps(record)), RecordError)
    if event is not None:
        assert event.stream_id == record["stream_id"]


@FUZZ
@given(
    lines=st.lists(
        listing_like().map(lambda r: json.dumps(r, ensure_ascii=False).encode()) | st.binary(max_size=80),
        max_size=6,
    )
)
def test_listing_files_yield_events_or_located_errors(lines: list[bytes]) -> None:
    with written(b"\n".join(lines), "listings.jsonl") as path:
        items = list(read_records(path, lambda d: decode(ListingEvent, d)))
    for number, item in items:
        assert isinstance(item, ListingEvent | RecordError)
        if isinstance(item, RecordError):
            assert item.line == number
            assert str(path) in str(item)


# ---------------------------------------------------------------------------------------------
# Ledger files


def read(path: Path, rules: QualificationRules) -> None:
    result = read_ledger(path, rules, mcn_id="mcn-starlight")
    assert result.rows >= 0
    for error in result.errors:
        assert isinstance(error, RecordError)
        assert str(error).startswith(str(path))


@FUZZ
@given(data=st.binary(max_size=400) | edited((SAMPLE / "ledger.csv").read_bytes()))
@example(data=b"\xef\xbb\xbf" + b"a" * 200_000)
@example(data=b'product_id,"' + b"x" * 200_000)
def test_ledger_csv_bytes(rules: QualificationRules, data: bytes) -> None:
    with written(data, "ledger.csv") as path:
        read(path, rules)


@FUZZ
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from([*COLUMNS, *COLUMNS.values(), "x"]), json_values, max_size=8),
        max_size=5,
    ),
    junk=st.binary(max_size=60),
)
def test_ledger_jsonl_rows(rules: QualificationRules, rows: list[dict[str, Any]], junk: bytes) -> None:
    data = b"\n".join(json.dumps(row).encode() for row in rows) + b"\n" + junk
    with written(data, "ledger.jsonl") as path:
        read(path, rules)


cells = (
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)


@settings(FUZZ, max_examples=40)
@given(
    header=st.lists(st.sampled_from([*COLUMNS, *COLUMNS.values(), "备注", None]), max_size=8),
    rows=st.lists(st.lists(cells | st.dates() | st.datetimes(), max_size=9), max_size=5),
)
def test_ledger_xlsx_workbooks(
    rules: QualificationRules, header: list[str | None], rows: list[list[Any]]
) -> None:
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = Workbook()
    sheet = book.active
    try:
        for row in [header, *rows]:
            sheet.append(row)
    except IllegalCharacterError:  # openpyxl cannot write control characters: no workbook to read
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.xlsx"
        book.save(path)
        read(path, rules)


@FUZZ
@given(data=st.binary(max_size=300))
def test_ledger_xlsx_bytes(rules: QualificationRules, data: bytes) -> None:
    with written(b"PK\x03\x04" + data, "ledger.xlsx") as path:
        read(path, rules)


# ---------------------------------------------------------------------------------------------
# Lexicon and rule files


yaml_documents = st.text(max_size=200) | json_values.map(lambda v: json.dumps(v, ensure_ascii=False))


def lexicon_dir(tmp: str, manifest: bytes, category: bytes) -> Path:
    directory = Path(tmp)
    (directory / "claims.yaml").write_bytes(manifest)
    (directory / "price.yaml").write_bytes(category)
    return directory


NORMALISE = Normaliser().text
SMALL_MANIFEST = b'version: "1"\nfiles: [price.yaml]\nmacros:\n  NUM: "[0-9]+"\n'
SMALL_CATEGORY = (
    b"category: price\nseverity: high\nlegal_basis: x\nentries:\n"
    b"  - rule_id: PRC-LOW\n    terms: [\xe6\x9c\x80\xe4\xbd\x8e]\n"
    b"  - rule_id: PRC-NUM\n    regex: '{NUM}\xe5\x85\x83'\n    keywords: [\xe5\x85\x83]\n"
)


@FUZZ
@given(
    manifest=yaml_documents.map(str.encode) | edited(SMALL_MANIFEST),
    category=yaml_documents.map(str.encode) | edited(SMALL_CATEGORY) | st.just(SMALL_CATEGORY),
)
@example(manifest=b"version: 2026-13-45\nfiles: [price.yaml]\n", category=SMALL_CATEGORY)
@example(manifest=b"{1: a, b: c}\n", category=SMALL_CATEGORY)
@example(manifest=SMALL_MANIFEST.replace(b"[0-9]+", b"a{99999999999}"), category=SMALL_CATEGORY)
@example(manifest=b"&a [*a]\n", category=SMALL_CATEGORY)
def test_lexicon_files_load_or_raise_lexicon_error(manifest: bytes, category: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = lexicon_dir(tmp, manifest, category)
        refused_cleanly(lambda: load_lexicon(directory, NORMALISE), LexiconError)


LEXICON_FILES = {p.name: p.read_bytes() for p in sorted(LEXICONS.glob("*.yaml"))}


@settings(FUZZ, max_examples=60)
@given(name=st.sampled_from(sorted(LEXICON_FILES)), changes=edits)
def test_the_real_lexicon_with_an_edited_file_loads_or_raises_lexicon_error(
    name: str, changes: list[Edit]
) -> None:
    changed = mutated(LEXICON_FILES[name], changes)
    with tempfile.TemporaryDirectory() as tmp:
        for other, text in LEXICON_FILES.items():
            (Path(tmp) / other).write_bytes(changed if other == name else text)
        refused_cleanly(lambda: load_lexicon(Path(tmp), NORMALISE), LexiconError)


RULES_TEXT = (LEXICONS / "qualifications.yaml").read_bytes()


@FUZZ
@given(data=yaml_documents.map(str.encode) | edited(RULES_TEXT) | st.binary(max_size=100))
@example(data=b"version: 2026-02-30\n")
@example(data=b"\xff\xfe")
@example(data=RULES_TEXT.replace(b"any_of: [", b"any_of: [[1], "))
def test_qualification_rules_load_or_raise_lexicon_error(data: bytes) -> None:
    with written(data, "qualifications.yaml") as path:
        refused_cleanly(lambda: load_rules(path), LexiconError)


# ---------------------------------------------------------------------------------------------
# Audio bytes

AUDIO_BYTES = (AUDIO / "live01.flac").read_bytes()[:60_000]
WAV_BYTES = (AUDIO / "aishell1_BAC009S0724W0121.wav").read_bytes()[:40_000]


def decode_all(path: Path) -> int:
    return sum(len(block) for block in decode_pcm(path, DecodeOptions(open_timeout_s=5, read_timeout_s=5)))


@pytest.mark.timeout(600)
@settings(FUZZ, max_examples=300)
@given(source=st.sampled_from(["flac", "wav", "none"]), changes=edits, noise=st.binary(max_size=2000))
@example(source="none", changes=[], noise=b"")
@example(source="none", changes=[], noise=b"RIFF\xff\xff\xff\xffWAVEfmt ")
@example(source="none", changes=[], noise=b"fLaC" + b"\x00" * 100)
def test_audio_bytes_decode_or_raise_audio_error(source: str, changes: list[Edit], noise: bytes) -> None:
    original = {"flac": AUDIO_BYTES, "wav": WAV_BYTES, "none": b""}[source]
    data = mutated(original, changes) if original else noise
    with written(data, "stream.bin") as path:
        started = time.monotonic()
        refused_cleanly(lambda: decode_all(path), AudioError)
        assert time.monotonic() - started < 20, "decoding a few kilobytes took too long"


def wav_with_tag(tag: bytes) -> bytes:
    """One second of silence as a WAV file whose LIST/INFO title is ``tag`` (raw bytes)."""
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
    title = b"INAM" + struct.pack("<I", len(tag) + 1) + tag + b"\x00" + b"\x00" * ((len(tag) + 1) % 2)
    info = b"LIST" + struct.pack("<I", 4 + len(title)) + b"INFO" + title
    data = b"data" + struct.pack("<I", 32_000) + b"\x00" * 32_000
    body = b"WAVE" + fmt + info + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_audio_whose_tags_are_not_utf8_still_decodes() -> None:
    """Found by the fuzzer: FFmpeg hands tags over as bytes, and GBK titles are common."""
    with written(wav_with_tag("直播回放".encode("gbk")), "gbk.wav") as path:
        assert decode_all(path) == 16_000
