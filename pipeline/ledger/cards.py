"""Reading selling-point cards (卖点卡, docs/cards.md) from the files MCNs keep them in.

A card is the list of selling points a brand supplies for one product (one ledger row), which the
MCN reviews and the anchor reads from. Formats, told by the file's suffix:

- a sheet (``.xlsx``, ``.csv``): one row per selling point; columns ``product_id`` [商品编号] and
  ``selling_point`` [卖点], optionally ``mcn_id`` [机构编号], ``version`` [版本] and anything else
  (kept in ``Card.extra``). Rows of several products make several cards. Row numbers are the
  sheet's (the header is row 1).
- a document (``.docx``, ``.md``, ``.txt``): ``key：value`` lines for the same fields
  (``商品编号：P-1001``, ``版本：v3``; a colon either width) and one selling point per other
  line: list markers (``-``, ``1.``, ``1、``, ``①``) and Markdown emphasis are dropped, headings,
  rules and blank lines skipped. A new ``商品编号`` line starts the next product's card. Lines are
  the file's; in a DOCX each paragraph and each table row counts as one line, in document order,
  a table row whose first cell is a field name is a ``key：value`` line, and heading or title
  paragraphs are skipped. Text before the first ``商品编号`` line is the card's preamble, text
  after a rule (``---``) its notes: neither is a selling point.

PDF is refused with a message: no PDF text extractor is among ClaimWatch's dependencies (export the
card as DOCX or text). Every problem is a :class:`RecordError` naming the file, the line (or row)
and the field; the cards without problems are still returned.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import RecordError
from pipeline.ledger.files import MAX_BYTES, text_problem
from pipeline.records import Card, SellingPoint

CardFormat = Literal["table", "docx", "text"]

# canonical field → the headers (and document keys) that mean it; the first is the one shown
ALIASES: Mapping[str, tuple[str, ...]] = {
    "product_id": ("商品编号", "商品ID"),
    "mcn_id": ("机构编号",),
    "selling_point": ("卖点", "卖点内容", "核心卖点"),
    "version": ("版本", "版本号"),
}
_BY_ALIAS = {a.lower(): name for name, aliases in ALIASES.items() for a in (name, *aliases)}
_SUFFIXES: Mapping[str, CardFormat] = {
    ".xlsx": "table",
    ".xlsm": "table",
    ".csv": "table",
    ".docx": "docx",
    ".md": "text",
    ".markdown": "text",
    ".txt": "text",
}
MAX_POINT_CHARS = 300  # one selling point is one claim or two, not a page
_KEY_VALUE = re.compile(r"^(?:[-*]\s+)?\**([^:：*]{1,12}?)\**\s*[:：]\s*(.*)$")
_MARKER = re.compile(r"^(?:[-*+•·]\s+|\d{1,3}\s*[.、)）]\s*|[（(]\d{1,3}[)）]\s*|[\u2460-\u2473]\s*)")
_SKIP = re.compile(r"^(?:#.*|\|?[\s:|-]+\|?|<!--.*-->)$")
_RULE = re.compile(r"^[-=*_]{3,}$")
_EMPHASIS = re.compile(r"\*\*|__|`")


@dataclass(frozen=True, slots=True)
class CardRead:
    """What reading a card file gave: the good cards, an error per problem."""

    source: str
    cards: tuple[Card, ...]
    errors: tuple[RecordError, ...]
    first_lines: Mapping[str, int] = field(default_factory=dict)  # product_id → where its card starts


def detect_format(path: str | Path) -> CardFormat:
    """The card format named by the file's suffix (PDF refused with the reason)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pdf":
        raise RecordError(
            "PDF cards cannot be read: no PDF text extractor is installed; export the card as "
            "DOCX, Markdown or text",
            source=str(path),
        )
    fmt = _SUFFIXES.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise RecordError(
            f"cannot tell the card format from the suffix (use one of {known})", source=str(path)
        )
    return fmt


def read_cards(path: str | Path, *, mcn_id: str, max_bytes: int = MAX_BYTES) -> CardRead:
    """Read and validate a card file of ``mcn_id`` (which the file's mcn_id, if any, must agree with)."""
    source = str(path)
    builder = _Builder(source, mcn_id)
    try:
        fmt = detect_format(path)
        size = Path(path).stat().st_size
        if size > max_bytes:
            raise RecordError(
                f"{size} bytes, more than the {max_bytes} allowed (ledger_max_bytes)", source=source
            )
        if fmt == "table":
            _read_table(Path(path), builder)
        else:
            lines = _docx_lines(Path(path), source) if fmt == "docx" else _text_lines(Path(path), source)
            _read_document(lines, builder)
    except OSError as exc:
        return CardRead(source, (), (RecordError(f"cannot read ({exc.strerror})", source=source),))
    except RecordError as exc:
        return CardRead(source, (), (exc,))
    return builder.result()


# ---------------------------------------------------------------------------------------------
# Building cards from located fields


@dataclass
class _Draft:
    product_id: str
    line: int
    mcn_id: str = ""
    label: str = ""
    points: list[SellingPoint] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class _Builder:
    """Collects the cards of a file, product by product, with every problem located."""

    def __init__(self, source: str, mcn_id: str) -> None:
        self.source = source
        self.mcn_id = mcn_id
        self.drafts: dict[str, _Draft] = {}
        self.errors: list[RecordError] = []
        self.bad: set[str] = set()

    def error(self, line: int, name: str, reason: str, header: str | None = None) -> None:
        shown = header or ALIASES.get(name, (name,))[0]
        self.errors.append(RecordError(reason, field=shown, source=self.source, line=line))

    def card(self, product_id: str, line: int) -> _Draft:
        draft = self.drafts.get(product_id)
        if draft is None:
            draft = self.drafts[product_id] = _Draft(product_id, line)
        return draft

    def readable(self, line: int, name: str, value: str, header: str | None = None) -> bool:
        problem = text_problem(value)
        if problem:
            self.error(line, name, problem, header)
        return problem is None

    def set_mcn(self, draft: _Draft, line: int, value: str, header: str | None = None) -> None:
        if value and value != self.mcn_id:
            self.error(line, "mcn_id", f"{value!r} is not the MCN being imported ({self.mcn_id!r})", header)
            self.bad.add(draft.product_id)

    def set_version(self, draft: _Draft, line: int, value: str, header: str | None = None) -> None:
        if draft.label and value and value != draft.label:
            reason = f"version {value!r} differs from {draft.label!r} given before for {draft.product_id}"
            self.error(line, "version", reason, header)
            self.bad.add(draft.product_id)
        draft.label = draft.label or value

    def add_point(self, draft: _Draft, line: int, text: str, header: str | None = None) -> None:
        if not text:
            self.error(line, "selling_point", "is empty", header)
            self.bad.add(draft.product_id)
        elif len(text) > MAX_POINT_CHARS:
            reason = (
                f"{len(text)} characters; a selling point is at most {MAX_POINT_CHARS} (one claim a line)"
            )
            self.error(line, "selling_point", reason, header)
            self.bad.add(draft.product_id)
        elif text not in {p.text for p in draft.points}:
            draft.points.append(SellingPoint(line, text))

    def result(self) -> CardRead:
        cards: list[Card] = []
        for draft in self.drafts.values():
            if not draft.points and draft.product_id not in self.bad:
                self.error(
                    draft.line, "selling_point", f"the card of {draft.product_id} has no selling points"
                )
                self.bad.add(draft.product_id)
            if draft.product_id in self.bad:
                continue
            cards.append(
                Card(
                    mcn_id=self.mcn_id, product_id=draft.product_id, points=tuple(draft.points),
                    label=draft.label, source=self.source, extra=draft.extra,
                )
            )  # fmt: skip
        first = {d.product_id: d.line for d in self.drafts.values()}
        errors = sorted(self.errors, key=lambda e: e.line or 0)
        return CardRead(self.source, tuple(cards), tuple(errors), first)


# ---------------------------------------------------------------------------------------------
# Sheets: one row per selling point


def _read_table(path: Path, builder: _Builder) -> None:
    rows = (
        _csv_rows(path, builder.source) if path.suffix.lower() == ".csv" else _xlsx_rows(path, builder.source)
    )
    header_row = next(rows, None)
    if header_row is None:
        raise RecordError("the file is empty (expected a header row)", source=builder.source)
    headers = [_cell(h).replace("\ufeff", "") for h in header_row[1]]
    names = [_BY_ALIAS.get(h.lower()) for h in headers]
    for needed in ("product_id", "selling_point"):
        if needed not in names:
            shown = f"{needed} [{ALIASES[needed][0]}]"
            raise RecordError(f"missing column {shown}", field=shown, source=builder.source, line=1)
    for number, cells in rows:
        values = {h: _cell(c) for h, c in zip(headers, cells, strict=False) if h}
        if not any(values.values()):
            continue
        _table_row(builder, number, values, dict(zip(headers, names, strict=False)))


def _table_row(builder: _Builder, number: int, values: dict[str, str], names: dict[str, str | None]) -> None:
    by_name = {names[h]: (h, v) for h, v in values.items() if names[h]}
    for header, value in values.items():
        if not builder.readable(number, names[header] or header, value, header):
            return
    product_header, product_id = by_name["product_id"]
    if not product_id:
        builder.error(number, "product_id", "is required", product_header)
        return
    draft = builder.card(product_id, number)
    if "mcn_id" in by_name:
        builder.set_mcn(draft, number, by_name["mcn_id"][1], by_name["mcn_id"][0])
    if "version" in by_name:
        builder.set_version(draft, number, by_name["version"][1], by_name["version"][0])
    for header, value in values.items():  # product-level columns: as on the card's first row
        if names[header] is None and value:
            draft.extra.setdefault(header, value)
    point_header, text = by_name["selling_point"]
    builder.add_point(draft, number, _point_text(text), point_header)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _csv_rows(path: Path, source: str) -> Iterator[tuple[int, list[Any]]]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        try:
            yield from enumerate((list(r) for r in csv.reader(handle)), start=1)
        except csv.Error as exc:
            raise RecordError(f"not valid CSV ({exc})", source=source) from None


def _xlsx_rows(path: Path, source: str) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
        rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
    except OSError:
        raise
    except Exception as exc:  # zip, XML and openpyxl's own errors for a bad workbook
        raise RecordError(f"not a readable XLSX workbook ({type(exc).__name__})", source=source) from None
    yield from enumerate(rows, start=1)


# ---------------------------------------------------------------------------------------------
# Documents: key：value lines and one selling point a line


def _text_lines(path: Path, source: str) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8-sig", errors="surrogateescape")
    return list(enumerate(text.splitlines(), start=1))


def _docx_lines(path: Path, source: str) -> list[tuple[int, str]]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # zip and XML errors for a file that is not a Word document
        raise RecordError(f"not a readable DOCX document ({type(exc).__name__})", source=source) from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_table_line(row) for row in block.rows)
        else:  # a heading or title paragraph is skipped like a Markdown heading
            style = (block.style.name if block.style is not None else "") or ""
            heading = style.startswith(("Heading", "Title"))
            lines.append(f"# {block.text}" if heading else block.text)
    return list(enumerate(lines, start=1))


def _table_line(row: Any) -> str:
    cells = [c.text.strip() for c in row.cells]
    if len(cells) >= 2 and cells[0].lower() in _BY_ALIAS:
        return f"{cells[0]}：{cells[1]}"
    texts = [c for c in cells if c and not c.isdigit()]
    return texts[-1] if texts else ""


def _read_document(lines: list[tuple[int, str]], builder: _Builder) -> None:
    draft: _Draft | None = None
    pending: list[tuple[int, str, str]] = []  # fields seen before the product id
    closed = False  # after a rule (---): notes, not selling points, until the next 商品编号
    for number, raw in lines:
        line = raw.strip()
        if _RULE.match(line):
            closed = True
            continue
        if not line or _SKIP.match(line):
            continue
        if not builder.readable(number, "selling_point", line):
            continue
        key_value = _KEY_VALUE.match(line)
        name = _BY_ALIAS.get(key_value.group(1).strip().lower()) if key_value else None
        if key_value and name:
            value = _point_text(key_value.group(2)) if name == "selling_point" else key_value.group(2).strip()
            if name == "product_id":
                if not value:
                    builder.error(number, "product_id", "is empty")
                    continue
                draft, closed = builder.card(value, number), False
                for at, other, text in pending:
                    _document_field(builder, draft, at, other, text)
                pending = []
            elif draft is None:
                pending.append((number, name, value))
            else:
                _document_field(builder, draft, number, name, value)
            continue
        if draft is not None and not closed:  # before the first 商品编号: title and preamble
            builder.add_point(draft, number, _point_text(line))
    if draft is None and not builder.errors:
        builder.error(1, "product_id", "no 商品编号 line: the card does not name its product")


def _document_field(builder: _Builder, draft: _Draft, number: int, name: str, value: str) -> None:
    if name == "mcn_id":
        builder.set_mcn(draft, number, value)
    elif name == "version":
        builder.set_version(draft, number, value)
    elif name == "selling_point" and value:  # 卖点：text on one line; an empty one opens the list
        builder.add_point(draft, number, value)


def _point_text(text: str) -> str:
    return _EMPHASIS.sub("", _MARKER.sub("", text.strip(), count=1)).strip()
