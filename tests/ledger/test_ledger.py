"""Reading selection ledgers: CSV, XLSX and JSONL, English and Chinese headers, broken rows."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from pipeline.errors import RecordError
from pipeline.ledger.files import COLUMNS, column_name, parse_qualification, read_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.sample import SAMPLE_DIR

RULES = load_rules()
MCN = "mcn-starlight"
HEADERS = list(COLUMNS)

GOOD = [
    ["P-1", MCN, "玻尿酸保湿面霜 50g", "水润坊", "cosmetics", "杭州水润坊", "approved", "2026-09-02",
     "王敏", "深层保湿;质地轻薄；温和不刺激", "cosmetics_filing|浙G妆网备字2023001147|2028-12-31",
     "JC-1", "2026-08-20"],
    ["P-2", MCN, "红枣枸杞茶", "宁夏红", "food", "宁夏红枸杞", "通过", "2026-09-05", "王敏", "",
     "food_production_license|SC11664010600017|2029-06-30", "", ""],
    ["P-3", "", "睡衣", "棉语", "apparel", "", "待审", "", "", "", "", "", ""],
]  # fmt: skip
BROKEN = [
    # row 5: a bad date
    ["P-4", MCN, "洗面奶", "水润坊", "cosmetics", "", "approved", "2026-13-01", "", "", "", "", ""],
    # row 6: an unknown category
    ["P-5", MCN, "神奇药丸", "某牌", "pills", "", "approved", "2026-09-01", "", "", "", "", ""],
    # row 7: an unparseable qualification entry (no number), and an unknown status
    ["P-6", MCN, "面膜", "水润坊", "cosmetics", "", "maybe", "", "", "", "cosmetics_filing", "", ""],
]  # fmt: skip


def _headers(chinese: bool) -> list[str]:
    return [COLUMNS[h] for h in HEADERS] if chinese else HEADERS


def _write_csv(path: Path, headers: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:  # with a BOM, as Excel writes it
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)


def _write_xlsx(path: Path, headers: list[str], rows: list[list[Any]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(headers)
    for row in rows:
        cells = list(row)
        for i, name in enumerate(HEADERS):  # real spreadsheets hold dates as date cells
            if name.endswith(("_at", "_date")) and cells[i] and cells[i][5:7] != "13":
                cells[i] = datetime.fromisoformat(cells[i])
        sheet.append(cells)
    sheet.append([None] * len(headers))  # trailing empty rows are common and ignored
    book.save(path)


def _write_jsonl(path: Path, headers: list[str], rows: list[list[Any]]) -> None:
    lines = [json.dumps(dict(zip(headers, row, strict=True)), ensure_ascii=False) for row in rows]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


WRITERS = {"csv": _write_csv, "xlsx": _write_xlsx, "jsonl": _write_jsonl}


@pytest.fixture(
    params=[(fmt, zh) for fmt in WRITERS for zh in (False, True)],
    ids=lambda p: f"{p[0]}-{'zh' if p[1] else 'en'}",
)
def ledger_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, bool]:
    fmt, chinese = request.param
    path = tmp_path / f"ledger.{fmt}"
    WRITERS[fmt](path, _headers(chinese), GOOD + BROKEN)
    return path, chinese


def test_good_rows_import_and_bad_rows_are_reported(ledger_file: tuple[Path, bool]) -> None:
    path, chinese = ledger_file
    result = read_ledger(path, RULES, mcn_id=MCN)
    assert [e.product_id for e in result.entries] == ["P-1", "P-2", "P-3"]
    assert result.rows == 6
    assert not result.refused
    p1, p2, p3 = result.entries
    assert p1.approved_claims == ("深层保湿", "质地轻薄", "温和不刺激")
    assert p1.reviewed_at == date(2026, 9, 2)
    assert p1.qualifications[0].valid_to == date(2028, 12, 31)
    assert (p2.status, p3.status, p3.mcn_id) == ("approved", "pending", MCN)
    located = {(e.source, e.line, e.field) for e in result.errors}
    col = (lambda n: COLUMNS[n]) if chinese else (lambda n: n)
    row = 4 if path.suffix == ".jsonl" else 5  # JSONL: line numbers; sheets: the header is row 1
    assert located == {
        (str(path), row, col("reviewed_at")),
        (str(path), row + 1, col("category")),
        (str(path), row + 2, col("qualifications")),
        (str(path), row + 2, col("status")),
    }
    reasons = " | ".join(str(e) for e in result.errors)
    assert "'2026-13-01' is not a date YYYY-MM-DD" in reasons
    assert "unknown category 'pills'" in reasons
    assert "entry 1 'cosmetics_filing': expected type|number|valid_to" in reasons
    assert "'maybe' is not approved/通过" in reasons


def test_strict_refuses_the_whole_file(ledger_file: tuple[Path, bool]) -> None:
    result = read_ledger(ledger_file[0], RULES, mcn_id=MCN, strict=True)
    assert result.refused
    assert result.entries == ()
    assert len(result.errors) == 4


def test_strict_accepts_a_clean_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    _write_csv(path, HEADERS, GOOD)
    result = read_ledger(path, RULES, mcn_id=MCN, strict=True)
    assert (len(result.entries), result.errors, result.refused) == (3, (), False)


def test_the_sample_ledger_reads_clean() -> None:
    result = read_ledger(SAMPLE_DIR / "ledger.csv", RULES, mcn_id=MCN)
    assert result.errors == ()
    assert [e.product_id for e in result.entries] == ["P-1001", "P-1002", "P-1004", "P-1005", "P-1006"]


def test_mcn_id_column_must_agree_with_the_import(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    _write_csv(path, HEADERS, [[*GOOD[0][:1], "mcn-other", *GOOD[0][2:]]])
    (error,) = read_ledger(path, RULES, mcn_id=MCN).errors
    assert (error.line, error.field) == (2, "mcn_id")
    assert "'mcn-other' is not the MCN being imported" in error.reason
    # without --mcn-id the column itself is used, and is then required
    assert read_ledger(path, RULES).entries[0].mcn_id == "mcn-other"
    _write_csv(path, HEADERS, [GOOD[2]])
    (error,) = read_ledger(path, RULES).errors
    assert (error.field, error.reason) == ("mcn_id", "is required")


def test_duplicate_product_is_reported_on_the_later_row(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    _write_csv(path, HEADERS, [GOOD[0], GOOD[1], GOOD[0]])
    result = read_ledger(path, RULES, mcn_id=MCN)
    assert len(result.entries) == 2
    (error,) = result.errors
    assert (error.line, error.field, error.reason) == (4, "product_id", "'P-1' already appears in row 2")


def test_missing_required_column_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    _write_csv(path, [h for h in HEADERS if h != "category"], [r[:4] + r[5:] for r in GOOD])
    result = read_ledger(path, RULES, mcn_id=MCN)
    assert result.entries == ()
    (error,) = result.errors
    assert error.line == 1
    assert "missing column(s) category [类目]" in error.reason


def test_unknown_columns_are_kept_and_mixed_headers_work(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    headers = ["商品编号", "product_name", "品牌", "category", "审核结论", "备注"]
    _write_csv(path, headers, [["P-9", "面霜", "水润坊", "cosmetics", "通过", "主播试用过"]])
    (entry,) = read_ledger(path, RULES, mcn_id=MCN).entries
    assert entry.extra == {"备注": "主播试用过"}
    assert entry.qualifications == ()


def test_jsonl_accepts_lists_and_objects(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    row = {
        "商品编号": "P-7",
        "商品名称": "维生素C咀嚼片",
        "品牌": "健力源",
        "类目": "health_food",
        "审核结论": "通过",
        "核准卖点": ["补充维生素C"],
        "资质证照": [
            {"type": "health_food_registration", "number": "国食健注G20170396", "valid_to": "2027-03-31"}
        ],
    }
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n[1]\n{oops\n", encoding="utf-8")
    result = read_ledger(path, RULES, mcn_id=MCN)
    (entry,) = result.entries
    assert entry.approved_claims == ("补充维生素C",)
    assert entry.qualifications[0].valid_to == date(2027, 3, 31)
    assert [(e.line, e.reason[:20]) for e in result.errors] == [
        (2, "expected a JSON obje"),
        (3, "not valid JSON (Expe"),
    ]


def test_unreadable_files_are_one_error(tmp_path: Path) -> None:
    bad_xlsx = tmp_path / "l.xlsx"
    bad_xlsx.write_bytes(b"not a zip")
    (error,) = read_ledger(bad_xlsx, RULES, mcn_id=MCN).errors
    assert "not a readable XLSX workbook" in error.reason
    gbk = tmp_path / "l.csv"
    gbk.write_bytes(",".join(HEADERS).encode() + "\n商品".encode("gbk"))
    assert "not UTF-8" in read_ledger(gbk, RULES).errors[0].reason
    assert "cannot tell the ledger format" in read_ledger(tmp_path / "l.txt", RULES).errors[0].reason
    assert "cannot read" in read_ledger(tmp_path / "missing.csv", RULES).errors[0].reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ccc|2023011001123456|2030-01-01", ("ccc", "2023011001123456", date(2030, 1, 1))),
        ("ccc｜2023011001123456", ("ccc", "2023011001123456", None)),
        (" ccc | 123 | ", ("ccc", "123", None)),  # malformed numbers are for `ledger check`, not import
    ],
)
def test_parse_qualification(text: str, expected: tuple[str, str, date | None]) -> None:
    q = parse_qualification(text, RULES)
    assert (q.type, q.number, q.valid_to) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ccc", "expected type|number|valid_to"),
        ("cc|2023011001123456|2030-01-01", "unknown qualification type 'cc'"),
        ("ccc||2030-01-01", "the number is empty"),
        ("ccc|2023011001123456|2030-02-30", "valid_to '2030-02-30' is not a date YYYY-MM-DD"),
        ("ccc|1|2|3", "expected type|number|valid_to"),
    ],
)
def test_parse_qualification_errors(text: str, reason: str) -> None:
    with pytest.raises(RecordError) as raised:
        parse_qualification(text, RULES)
    assert raised.value.reason == reason


def test_column_name_aliases() -> None:
    assert column_name("\ufeff商品编号 ") == "product_id"
    assert column_name("Product_ID") == "product_id"
    assert column_name("备注") is None


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    lines = [",".join(HEADERS)] + [",".join(str(c) for c in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_a_byte_that_is_not_utf8_refuses_its_row_by_name_and_the_rest_is_imported(tmp_path: Path) -> None:
    good = [[c.replace(",", "") for c in row] for row in GOOD]
    data = _csv_bytes(good).split(b"\n")
    data[2] = data[2].replace("红枣".encode(), b"\xba\xec\xd4\xe6")  # row 3 in GBK, as an old export
    path = tmp_path / "l.csv"
    path.write_bytes(b"\n".join(data))
    result = read_ledger(path, RULES, mcn_id=MCN)
    assert [e.product_id for e in result.entries] == ["P-1", "P-3"]
    (error,) = result.errors
    assert (error.source, error.line, error.field) == (str(path), 3, "product_name")
    assert "not UTF-8" in error.reason
    jsonl = tmp_path / "l.jsonl"
    lines = [json.dumps(dict(zip(HEADERS, row, strict=True)), ensure_ascii=False).encode() for row in GOOD]
    lines[1] = lines[1].replace("宁夏红".encode(), b"\xff\xfe")
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    result = read_ledger(jsonl, RULES, mcn_id=MCN)
    assert [e.product_id for e in result.entries] == ["P-1", "P-3"]
    assert [(e.line, e.field) for e in result.errors] == [(2, "brand"), (2, "supplier")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])  # XLSX cells hold 32,767 characters (openpyxl cuts)
def test_one_oversized_cell_refuses_its_row_by_name_and_the_rest_is_imported(
    tmp_path: Path, fmt: str
) -> None:
    rows = [list(row) for row in GOOD]
    rows[1][HEADERS.index("approved_claims")] = "很好" * 100_000  # 200,000 characters in one cell
    path = tmp_path / f"l.{fmt}"
    WRITERS[fmt](path, HEADERS, rows)
    result = read_ledger(path, RULES, mcn_id=MCN)
    assert [e.product_id for e in result.entries] == ["P-1", "P-3"]
    (error,) = result.errors
    assert (error.line, error.field) == (3 if fmt != "jsonl" else 2, "approved_claims")
    assert "200000 characters" in error.reason
