"""Input size limits (docs/configuration.md, "Input limits") and the append-only audit log.

Each limit is a setting with a default; input past it is refused with an error that names the
setting, and the rest of the input is unaffected where that makes sense (a listing file goes on
after a too-long line; a ledger file is refused whole).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import jsonl
from pipeline.config import PROJECT_ROOT, Settings
from pipeline.errors import AudioError, RecordError
from pipeline.jsonl import read_records
from pipeline.ledger import files as ledger_files
from pipeline.ledger.files import read_ledger
from pipeline.ledger.qualifications import QualificationRules, load_rules
from pipeline.records import AudioChunk, ListingEvent, decode
from pipeline.reporting.audit import record
from pipeline.reporting.scope import Period, ScopeError
from pipeline.speech.pieces import check_piece
from pipeline.warehouse import Store

SAMPLE = PROJECT_ROOT / "pipeline" / "sample"
LISTING = (SAMPLE / "listings.jsonl").read_bytes().splitlines()[0]


@pytest.fixture(scope="module")
def rules() -> QualificationRules:
    return load_rules(PROJECT_ROOT / "lexicons")


def test_module_defaults_are_the_settings_defaults() -> None:
    defaults = Settings.model_fields
    assert defaults["listing_max_line_bytes"].default == jsonl.MAX_LINE_BYTES
    assert defaults["ledger_max_bytes"].default == ledger_files.MAX_BYTES
    assert defaults["ledger_max_rows"].default == ledger_files.MAX_ROWS


# ---------------------------------------------------------------------------------------------
# Listing lines


def test_a_listing_line_past_the_limit_is_refused_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "listings.jsonl"
    huge = b'{"title": "' + b"x" * 5000 + b'"}'
    path.write_bytes(b"\n".join([LISTING, huge, LISTING, b""]))
    items = list(read_records(path, lambda d: decode(ListingEvent, d), max_line_bytes=4096))
    assert [n for n, _ in items] == [1, 2, 3]
    assert isinstance(items[0][1], ListingEvent)
    assert isinstance(items[2][1], ListingEvent)
    error = items[1][1]
    assert isinstance(error, RecordError)
    assert "listing_max_line_bytes" in str(error)
    assert f"{path}:2" in str(error)


def test_a_line_that_is_not_utf8_is_one_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "listings.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + LISTING + b"\n\xff\xfe{}\n" + LISTING + b"\n")
    items = list(read_records(path, lambda d: decode(ListingEvent, d)))
    assert [type(item).__name__ for _, item in items] == ["ListingEvent", "RecordError", "ListingEvent"]
    assert "not UTF-8" in str(items[1][1])


def test_a_line_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "listings.jsonl"
    path.write_bytes(LISTING + b"\n")
    ((_, item),) = read_records(path, lambda d: decode(ListingEvent, d), max_line_bytes=len(LISTING))
    assert isinstance(item, ListingEvent)


# ---------------------------------------------------------------------------------------------
# Ledger files


def ledger_csv(rows: int, blank_every: int = 0) -> str:
    header = "商品编号,商品名称,品牌,类目,审核结论\n"
    lines = []
    for i in range(rows):
        lines.append(f"P-{i},面霜{i},水润坊,apparel,通过\n")
        if blank_every and i % blank_every == 0:
            lines.append(",,,,\n")
    return header + "".join(lines)


def test_a_ledger_file_past_the_size_limit_is_refused_whole(
    tmp_path: Path, rules: QualificationRules
) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(ledger_csv(50), encoding="utf-8")
    result = read_ledger(path, rules, mcn_id="m", max_bytes=1024)
    assert result.entries == ()
    (error,) = result.errors
    assert "ledger_max_bytes" in str(error)
    assert str(path) in str(error)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_a_ledger_past_the_row_limit_is_refused_whole(
    tmp_path: Path, rules: QualificationRules, fmt: str
) -> None:
    path = write_ledger(tmp_path, fmt, rows=11)
    result = read_ledger(path, rules, mcn_id="m", max_rows=10)
    assert result.entries == ()
    (error,) = result.errors
    assert "more than 10 rows (ledger_max_rows)" in str(error)
    assert len(read_ledger(path, rules, mcn_id="m", max_rows=11).entries) == 11


def test_blank_rows_do_not_count_and_rows_keep_their_numbers(
    tmp_path: Path, rules: QualificationRules
) -> None:
    path = tmp_path / "ledger.csv"
    text = ledger_csv(10, blank_every=1).replace(
        "P-9,面霜9,水润坊,apparel,通过", "P-9,面霜9,水润坊,apparel,也许"
    )
    path.write_text(text, encoding="utf-8")
    result = read_ledger(path, rules, mcn_id="m", max_rows=10)
    assert len(result.entries) == 9
    (error,) = result.errors
    assert f"{path}:20" in str(error), "row 20 of the sheet: header, then a blank after every row"


def write_ledger(directory: Path, fmt: str, rows: int) -> Path:
    path = directory / f"ledger.{fmt}"
    lines = ledger_csv(rows).splitlines()
    table = [line.split(",") for line in lines]
    if fmt == "csv":
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif fmt == "jsonl":
        import json

        header = table[0]
        path.write_text(
            "".join(json.dumps(dict(zip(header, row, strict=True))) + "\n" for row in table[1:]),
            encoding="utf-8",
        )
    else:
        from openpyxl import Workbook

        book = Workbook()
        for row in table:
            book.active.append(row)
        book.save(path)
    return path


# ---------------------------------------------------------------------------------------------
# Audio pieces, console periods


def test_a_speech_piece_past_the_limit_is_refused() -> None:
    piece = AudioChunk("s1", 7, 12.0, 16_000, b"\x00\x00" * 16_000 * 31)
    with pytest.raises(AudioError, match=r"chunk 7 of s1: 31.0 s .* \(audio_chunk_max_s\)"):
        check_piece(piece, 30.0)
    short = AudioChunk("s1", 8, 12.0, 16_000, b"\x00\x00" * 16_000 * 12)
    assert check_piece(short, 30.0) is short


@pytest.mark.parametrize("text", ["0000-01", "1969-12", "2106-01", "9999-12"])
def test_periods_outside_the_warehouse_calendar_are_refused(text: str) -> None:
    with pytest.raises(ScopeError, match="outside the years"):
        Period.parse(text, "Asia/Shanghai")


# ---------------------------------------------------------------------------------------------
# The audit log is append-only

MUTATIONS = re.compile(
    r"\b(ALTER|DELETE|TRUNCATE|DROP|UPDATE|OPTIMIZE|RENAME|EXCHANGE|REPLACE)\b[^;\"']{0,200}\baudit_log\b",
    re.IGNORECASE,
)


def test_no_code_or_migration_changes_the_audit_log() -> None:
    sources = [*(PROJECT_ROOT / "pipeline").rglob("*.py"), *(PROJECT_ROOT / "pipeline").rglob("*.sql")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not MUTATIONS.search(text), f"{path}: {MUTATIONS.search(text)}"
        if path.name != "audit.py":
            assert not re.search(r"insert\(\s*[\"']audit_log", text), f"{path} writes the audit log itself"


def test_the_audit_log_table_never_folds_or_expires_rows() -> None:
    sql = "\n".join(
        p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "pipeline/warehouse/migrations").glob("*.sql")
    )
    (definition,) = re.findall(r"CREATE TABLE IF NOT EXISTS audit_log \((.*?)\);", sql, re.S)
    engine = re.search(r"ENGINE\s*=\s*(\w+)", definition)
    assert engine
    assert engine.group(1) == "MergeTree", "a Replacing/Collapsing engine would fold audit rows away"
    assert "TTL" not in definition.upper()


def test_audit_entries_survive_merges(store: Store) -> None:
    for _ in range(3):
        record(store, "cert", "review.dismiss", "same-violation", "mcn-a", reason="same reason")
    store.command("OPTIMIZE TABLE audit_log FINAL")
    rows = store.query("SELECT actor, action, target FROM audit_log WHERE target = 'same-violation'")
    assert len(rows) == 3, "identical entries are kept, each one"
    newest = store.query("SELECT max(ts) AS ts FROM audit_log")[0]["ts"]
    assert newest <= datetime.now(UTC)
