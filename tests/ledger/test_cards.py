"""Reading selling-point cards: the formats MCNs keep them in, and the errors a bad card gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ledger.cards import read_cards
from tests.paths import DATA

CARDS = DATA / "cards"
MCN = "mcn-starlight"


def points(name: str) -> dict[str, list[tuple[int, str]]]:
    read = read_cards(CARDS / name, mcn_id=MCN)
    assert read.errors == ()
    return {c.product_id: [(p.line, p.text) for p in c.points] for c in read.cards}


def test_xlsx_with_chinese_headers_makes_one_card_per_product() -> None:
    read = read_cards(CARDS / "brand_cards.xlsx", mcn_id=MCN)
    assert read.errors == ()
    by_product = {c.product_id: c for c in read.cards}
    assert [p.text for p in by_product["P-1001"].points][2] == "用了就能美白淡斑"
    assert by_product["P-1001"].label == "2026-10"
    assert by_product["P-1001"].points[0].line == 2  # the sheet's row (the header is row 1)
    assert by_product["P-1001"].extra["商品名称"] == "玻尿酸保湿面霜 50g"
    assert [p.text for p in by_product["P-1005"].points] == ["补充维生素C", "增强免疫力，换季更安心"]


def test_csv_card_rows() -> None:
    assert points("cards.csv")["P-1004"] == [(4, "纯棉亲肤，透气不闷"), (5, "面料是新疆长绒棉")]


def test_markdown_card_drops_markers_headings_and_notes_after_a_rule() -> None:
    read = read_cards(CARDS / "cream_card.md", mcn_id=MCN)
    (card,) = read.cards
    assert (card.product_id, card.label) == ("P-1001", "2026-11")
    assert [(p.line, p.text) for p in card.points] == [
        (9, "深层保湿，秋冬天用也不会干"),
        (10, "质地轻薄，上脸一抹就化开"),
        (11, "温和不刺激，敏感肌可用"),
    ]


def test_plain_text_card_skips_its_title() -> None:
    assert points("tea_card.txt")["P-1002"][-1] == (7, "宁夏产枸杞")


def test_docx_card_paragraphs_list_and_key_value_table() -> None:
    read = read_cards(CARDS / "pajamas_card.docx", mcn_id=MCN)
    assert read.errors == ()
    (card,) = read.cards
    assert (card.product_id, card.label) == ("P-1004", "v2")
    assert [p.text for p in card.points] == ["纯棉亲肤，透气不闷", "宽松版型，居家舒适"]
    other = read_cards(CARDS / "pajamas_card.docx", mcn_id="mcn-other")  # the table names the MCN
    assert other.cards == ()
    assert "mcn-starlight" in str(other.errors[0])


def test_bad_rows_are_named_by_file_line_and_field_and_the_rest_is_read() -> None:
    read = read_cards(CARDS / "bad_rows.csv", mcn_id=MCN)
    found = [(e.line, e.field, e.reason) for e in read.errors]
    assert found == [
        (3, "卖点", "is empty"),
        (4, "商品编号", "is required"),
        (5, "机构编号", "'mcn-other' is not the MCN being imported ('mcn-starlight')"),
        (7, "版本", "version 'v2' differs from 'v1' given before for P-1004"),
    ]
    assert all(str(e).startswith(f"{CARDS / 'bad_rows.csv'}:") for e in read.errors)
    assert [c.product_id for c in read.cards] == ["P-1005"]  # a card with a bad line is not taken


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("no_points_column.csv", 1, "selling_point [卖点]", "missing column"),
        ("no_product.md", 1, "商品编号", "does not name its product"),
        ("cream_card.pdf", None, None, "no PDF text extractor"),
    ],
)
def test_a_card_file_refused_whole(name: str, line: int | None, field: str | None, words: str) -> None:
    read = read_cards(CARDS / name, mcn_id=MCN)
    (error,) = read.errors
    assert (error.line, error.field, error.source) == (line, field, str(CARDS / name))
    assert words in error.reason
    assert read.cards == ()


def test_a_long_point_and_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "card.txt"
    path.write_bytes("商品编号：P-1\n".encode() + b"\xff\xfe bad\n" + ("很" * 301 + "\n").encode())
    read = read_cards(path, mcn_id=MCN)
    assert [(e.line, e.field) for e in read.errors] == [(2, "卖点"), (3, "卖点")]
    assert "not UTF-8" in read.errors[0].reason
    assert "at most 300" in read.errors[1].reason
