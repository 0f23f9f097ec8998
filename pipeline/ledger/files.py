"""Reading an MCN's selection ledger (选品台账, DESIGN.md §3.2) from CSV, XLSX or JSONL.

Headers may be English or Chinese (``product_id`` or ``商品编号``…), text may start with a BOM.
Every bad row is reported as a :class:`RecordError` naming the file, the row (spreadsheet
numbering: the header is row 1; the line for JSONL), the column as written in the file and the
reason, while the good rows are still returned; ``strict=True`` refuses the whole file instead.
A row with a byte that is not UTF-8, or with a cell longer than ``MAX_CELL_CHARS`` (Excel's own
limit), is such a bad row; a header that is not UTF-8 refuses the file (it was not saved as UTF-8).
Columns the format does not know are kept in ``LedgerEntry.extra``. A file larger than
``max_bytes`` or with more than ``max_rows`` rows (the ``ledger_max_bytes`` and ``ledger_max_rows``
settings) is refused whole, with an error naming the limit.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import RecordError
from pipeline.jsonl import parse_object
from pipeline.ledger.qualifications import QualificationRules
from pipeline.records import LedgerEntry, LedgerStatus, Qualification

LedgerFormat = Literal["csv", "xlsx", "jsonl"]

# canonical column → Chinese alias (DESIGN.md §3.2)
COLUMNS: Mapping[str, str] = {
    "product_id": "商品编号",
    "mcn_id": "机构编号",
    "product_name": "商品名称",
    "brand": "品牌",
    "category": "类目",
    "supplier": "供应商",
    "status": "审核结论",
    "reviewed_at": "审核日期",
    "reviewer": "审核人",
    "approved_claims": "核准卖点",
    "qualifications": "资质证照",
    "test_report": "检测报告编号",
    "test_report_date": "检测日期",
}
REQUIRED = ("product_id", "product_name", "brand", "category", "status")
STATUSES: Mapping[str, LedgerStatus] = {
    "approved": "approved",
    "通过": "approved",
    "rejected": "rejected",
    "不通过": "rejected",
    "pending": "pending",
    "待审": "pending",
}
_ALIASES = {alias: name for name, alias in COLUMNS.items()} | {name: name for name in COLUMNS}
_LIST_SEP = re.compile(r"[;；]")
_PART_SEP = re.compile(r"[|｜]")
_SUFFIXES: Mapping[str, LedgerFormat] = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
MAX_BYTES = 64 << 20  # defaults of the ledger_max_bytes and ledger_max_rows settings
MAX_ROWS = 100_000
MAX_CELL_CHARS = 32_767  # the most characters an Excel cell holds
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape reads it
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class LedgerRead:
    """What reading a ledger file gave: the good rows, and an error per bad row (or cell)."""

    source: str
    entries: tuple[LedgerEntry, ...]
    errors: tuple[RecordError, ...]
    rows: int
    strict: bool = False

    @property
    def refused(self) -> bool:
        """Strict mode and at least one error: nothing from the file is to be imported."""
        return self.strict and bool(self.errors)


def read_ledger(
    path: str | Path,
    rules: QualificationRules,
    *,
    mcn_id: str | None = None,
    strict: bool = False,
    fmt: LedgerFormat | None = None,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> LedgerRead:
    """Read and validate a ledger file; ``mcn_id`` fills (and must agree with) the mcn_id column."""
    source = str(path)
    parser = _RowParser(source, rules, mcn_id)
    try:
        fmt = fmt or detect_format(path)
        _check_size(Path(path), max_bytes, source)
        rows = list(_raw_rows(Path(path), fmt, source, max_rows))
    except RecordError as exc:
        return LedgerRead(source, (), (exc,), 0, strict)
    entries: list[LedgerEntry] = []
    errors: list[RecordError] = []
    for number, row in rows:
        if isinstance(row, RecordError):
            errors.append(row)
            continue
        entry, problems = parser.parse(number, row)
        errors.extend(problems)
        if entry is not None:
            entries.append(entry)
    kept = () if strict and errors else tuple(entries)
    return LedgerRead(source, kept, tuple(errors), len(rows), strict)


def detect_format(path: str | Path) -> LedgerFormat:
    """The ledger format named by the file's suffix."""
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise RecordError(
            f"cannot tell the ledger format from the suffix (use one of {known})", source=str(path)
        )
    return fmt


def column_name(header: Any) -> str | None:
    """The canonical column a header stands for (English or Chinese), or None."""
    text = str(header or "").replace("\ufeff", "").strip()
    return _ALIASES.get(text) or _ALIASES.get(text.lower())


# ---------------------------------------------------------------------------------------------
# Raw rows: (row number, {header as written: value}) or a located RecordError

RawRow = tuple[int, "dict[str, Any] | RecordError"]
NumberedCells = tuple[int, list[Any]]


def _check_size(path: Path, max_bytes: int, source: str) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RecordError(f"cannot read ({exc.strerror})", source=source) from None
    if size > max_bytes:
        limit = f"more than the {max_bytes} allowed (ledger_max_bytes)"
        raise RecordError(f"{size} bytes, {limit}", source=source)


def _raw_rows(path: Path, fmt: LedgerFormat, source: str, max_rows: int) -> Iterator[RawRow]:
    if fmt == "jsonl":
        yield from _jsonl_rows(path, source, max_rows)
        return
    table = _csv_table(path, source, max_rows) if fmt == "csv" else _xlsx_table(path, source, max_rows)
    yield from _table_rows(table, source)


def _kept(rows: Iterator[NumberedCells], max_rows: int, source: str) -> list[NumberedCells]:
    """The header row and the rows that are not blank, refused past ``max_rows`` of them."""
    kept: list[NumberedCells] = []
    for number, cells in rows:
        if kept and all(_blank(c) for c in cells):
            continue
        if len(kept) > max_rows:
            raise RecordError(f"more than {max_rows} rows (ledger_max_rows)", source=source)
        kept.append((number, cells))
    return kept


def _csv_table(path: Path, source: str, max_rows: int) -> list[NumberedCells]:
    # Bytes that are not UTF-8 are read as surrogates (found by cell, in _RowParser); no cell is
    # refused by the csv module's own size limit (131072), which would end the file: the file's
    # size is bounded already, and a long cell is refused by row.
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(max(limit, path.stat().st_size + 1))
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            table = _kept(enumerate(csv.reader(handle), start=1), max_rows, source)
    except OSError as exc:
        raise RecordError(f"cannot read ({exc.strerror})", source=source) from None
    except csv.Error as exc:
        raise RecordError(f"not valid CSV ({exc})", source=source) from None
    finally:
        csv.field_size_limit(limit)
    if table and any(_NOT_UTF8.search(str(h or "")) for h in table[0][1]):
        raise RecordError("not UTF-8 text; save the sheet as CSV UTF-8", source=source, line=1)
    return table


def _xlsx_table(path: Path, source: str, max_rows: int) -> list[NumberedCells]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise RecordError(f"cannot read ({exc.strerror})", source=source) from None
    except Exception as exc:  # openpyxl raises zip, XML and its own errors for a bad workbook
        raise RecordError(f"not a readable XLSX workbook ({type(exc).__name__})", source=source) from None
    sheet_rows = None
    try:
        sheet_rows = book.worksheets[0].iter_rows(values_only=True)
        return _kept(enumerate((list(row) for row in sheet_rows), start=1), max_rows, source)
    except RecordError:
        raise
    except Exception as exc:  # the same, found while reading the sheet's rows
        raise RecordError(f"not a readable XLSX workbook ({type(exc).__name__})", source=source) from None
    finally:
        if sheet_rows is not None:
            sheet_rows.close()  # a sheet left unread keeps its part of the zip open
        book.close()


def _table_rows(table: list[NumberedCells], source: str) -> Iterator[RawRow]:
    if not table:
        raise RecordError("the file is empty (expected a header row)", source=source)
    headers = [str(h or "").replace("\ufeff", "").strip() for h in table[0][1]]
    _check_headers(headers, source)
    for index, cells in table[1:]:
        if all(_blank(c) for c in cells):
            continue
        if len(cells) > len(headers) and any(not _blank(c) for c in cells[len(headers) :]):
            yield (
                index,
                RecordError(f"{len(cells)} cells but {len(headers)} headers", source=source, line=index),
            )
            continue
        yield index, {h: c for h, c in zip(headers, cells, strict=False) if h}


def _check_headers(headers: list[str], source: str) -> None:
    seen: dict[str, str] = {}
    for header in headers:
        name = column_name(header)
        if name is None:
            continue
        if name in seen:
            raise RecordError(
                f"columns {seen[name]!r} and {header!r} both mean {name}", source=source, line=1
            )
        seen[name] = header
    missing = [f"{n} [{COLUMNS[n]}]" for n in REQUIRED if n not in seen]
    if missing:
        raise RecordError(f"missing column(s) {', '.join(missing)}", source=source, line=1)


def _jsonl_rows(path: Path, source: str, max_rows: int) -> Iterator[RawRow]:
    try:  # bytes that are not UTF-8 read as surrogates, found by field (or by line, outside text)
        with path.open(encoding="utf-8-sig", errors="surrogateescape") as handle:
            lines = list(handle)
    except OSError as exc:
        raise RecordError(f"cannot read ({exc.strerror})", source=source) from None
    rows = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rows += 1
        if rows > max_rows:
            raise RecordError(f"more than {max_rows} rows (ledger_max_rows)", source=source)
        yield number, parse_object(line, source, number)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ---------------------------------------------------------------------------------------------
# Validating one row


class _RowParser:
    """Turns raw rows into LedgerEntry records, collecting every problem of a row."""

    def __init__(self, source: str, rules: QualificationRules, mcn_id: str | None) -> None:
        self.source = source
        self.rules = rules
        self.mcn_id = mcn_id
        self.first_row: dict[str, int] = {}

    def parse(self, number: int, row: Mapping[str, Any]) -> tuple[LedgerEntry | None, list[RecordError]]:
        cells = _Cells(row, self.source, number)
        if cells.unreadable():
            return None, cells.errors
        entry = LedgerEntry(
            product_id=cells.text("product_id", required=True),
            mcn_id=self._mcn(cells),
            product_name=cells.text("product_name", required=True),
            brand=cells.text("brand", required=True),
            category=self._category(cells),
            status=self._status(cells),
            supplier=cells.text("supplier"),
            reviewed_at=cells.day("reviewed_at"),
            reviewer=cells.text("reviewer"),
            approved_claims=tuple(str(c) for c in cells.items("approved_claims")),
            qualifications=self._qualifications(cells),
            test_report=cells.text("test_report"),
            test_report_date=cells.day("test_report_date"),
            extra=cells.extra(),
        )
        self._duplicate(cells, entry.product_id, number)
        return (None, cells.errors) if cells.errors else (entry, [])

    def _mcn(self, cells: _Cells) -> str:
        given = cells.text("mcn_id", required=self.mcn_id is None)
        if self.mcn_id is not None and given and given != self.mcn_id:
            cells.error("mcn_id", f"{given!r} is not the MCN being imported ({self.mcn_id!r})")
        return given or self.mcn_id or ""

    def _category(self, cells: _Cells) -> str:
        value = cells.text("category", required=True).lower()
        if value and value not in self.rules.categories:
            known = ", ".join(self.rules.categories)
            cells.error("category", f"unknown category {value!r} (one of {known})")
        return value

    def _status(self, cells: _Cells) -> LedgerStatus:
        value = cells.text("status", required=True)
        status = STATUSES.get(value.lower())
        if value and status is None:
            cells.error("status", f"{value!r} is not approved/通过, rejected/不通过 or pending/待审")
        return status or "pending"

    def _qualifications(self, cells: _Cells) -> tuple[Qualification, ...]:
        found: list[Qualification] = []
        for index, item in enumerate(cells.items("qualifications"), start=1):
            try:
                found.append(parse_qualification(item, self.rules))
            except RecordError as exc:
                cells.error("qualifications", f"entry {index} {item!r}: {exc.reason}")
        return tuple(found)

    def _duplicate(self, cells: _Cells, product_id: str, number: int) -> None:
        if not product_id:
            return
        first = self.first_row.setdefault(product_id, number)
        if first != number:
            cells.error("product_id", f"{product_id!r} already appears in row {first}")


def _texts(value: Any) -> list[str]:
    """The strings of a cell (a JSONL value may be a list or an object of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    return []


def text_problem(text: str) -> str | None:
    """Why a cell's text cannot be imported (not UTF-8, too long), or None."""
    bad = _NOT_UTF8.search(text)
    if bad:
        byte = ord(bad.group()) - 0xDC00
        return f"not UTF-8 text (byte 0x{byte:02X} at character {bad.start()}); save the file as UTF-8"
    if _SURROGATE.search(text):
        return "not valid Unicode (a lone surrogate)"
    if len(text) > MAX_CELL_CHARS:
        return f"{len(text)} characters, more than the {MAX_CELL_CHARS} a cell may hold"
    return None


def parse_qualification(item: Any, rules: QualificationRules) -> Qualification:
    """One qualification entry: ``type|number|valid_to`` (valid_to may be left out) or a mapping."""
    if isinstance(item, Mapping):
        parts = [item.get("type"), item.get("number"), item.get("valid_to")]
    else:
        parts = [p.strip() for p in _PART_SEP.split(str(item))]
        if len(parts) not in (2, 3):
            raise RecordError("expected type|number|valid_to")
    qtype, number, valid_to = [*parts, None][:3]
    if not isinstance(qtype, str) or qtype.strip() not in rules.types:
        raise RecordError(f"unknown qualification type {qtype!r}")
    if not isinstance(number, str) or not number.strip():
        raise RecordError("the number is empty")
    return Qualification(qtype.strip(), number.strip(), _to_date(valid_to, "valid_to"))


def _to_date(value: Any, name: str) -> date | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RecordError(f"{name} {value!r} is not a date YYYY-MM-DD") from None


class _Cells:
    """The cells of one row by canonical column, with the problems found reading them."""

    def __init__(self, row: Mapping[str, Any], source: str, number: int) -> None:
        self.source = source
        self.number = number
        self.errors: list[RecordError] = []
        self.headers: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.unknown: dict[str, Any] = {}
        for header, value in row.items():
            name = column_name(header)
            if name is None:
                self.unknown[str(header)] = value
            else:
                self.headers[name], self.values[name] = str(header), value

    def error(self, name: str, reason: str) -> None:
        header = self.headers.get(name, name)
        self.errors.append(RecordError(reason, field=header, source=self.source, line=self.number))

    def unreadable(self) -> bool:
        """Whether a cell of the row cannot be read as text at all (each such cell an error)."""
        for name, value in [*self.values.items(), *self.unknown.items()]:
            for text in _texts(value):
                problem = text_problem(text)
                if problem:
                    self.error(name, problem)
                    break
        return bool(self.errors)

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.values.get(name)
        if _blank(value):
            if required:
                self.error(name, "is required")
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value).strip()

    def day(self, name: str) -> date | None:
        try:
            return _to_date(self.values.get(name), "date")
        except RecordError as exc:
            self.error(name, exc.reason.replace("date ", "", 1))
            return None

    def items(self, name: str) -> list[Any]:
        value = self.values.get(name)
        if _blank(value):
            return []
        if isinstance(value, list):
            return [v for v in value if not _blank(v)]
        return [p.strip() for p in _LIST_SEP.split(str(value)) if p.strip()]

    def extra(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in self.unknown.items()}
