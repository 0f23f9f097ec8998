"""Writes the XLSX and DOCX test cards of this directory (run it with the venv's python).

The cards are made up for the sample MCN `mcn-starlight` (pipeline/sample/ledger.csv); no brand's
material. The text cards (.md, .txt, .csv) are kept as written.
"""

from pathlib import Path

import docx
from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def sheet() -> None:
    """A brand's card sheet as an MCN receives it: Chinese headers, one row per selling point."""
    book = Workbook()
    ws = book.active
    ws.title = "卖点卡"
    ws.append(["商品编号", "商品名称", "序号", "卖点", "版本", "备注"])
    rows = [
        ("P-1001", "玻尿酸保湿面霜 50g", 1, "深层保湿，秋冬不干", "2026-10", ""),
        ("P-1001", "玻尿酸保湿面霜 50g", 2, "质地轻薄，一抹化开", "2026-10", ""),
        ("P-1001", "玻尿酸保湿面霜 50g", 3, "用了就能美白淡斑", "2026-10", "品牌方要求"),
        ("P-1001", "玻尿酸保湿面霜 50g", 4, "全网最低价，错过等一年", "2026-10", ""),
        ("P-1005", "维生素C咀嚼片", 1, "补充维生素C", "v1", ""),
        ("P-1005", "维生素C咀嚼片", 2, "增强免疫力，换季更安心", "v1", ""),
    ]
    for row in rows:
        ws.append(list(row))
    book.save(HERE / "brand_cards.xlsx")


def document() -> None:
    """A card written in Word: a title, the product's fields, then the selling points as a list."""
    d = docx.Document()
    d.add_heading("卖点卡：新疆长绒棉睡衣套装", level=1)
    d.add_paragraph("商品编号：P-1004")
    d.add_paragraph("版本：v2")
    d.add_paragraph("卖点：")
    for point in ("纯棉亲肤，透气不闷", "宽松版型，居家舒适"):
        d.add_paragraph(point, style="List Number")
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "机构编号"
    table.rows[0].cells[1].text = "mcn-starlight"
    d.save(HERE / "pajamas_card.docx")


if __name__ == "__main__":
    sheet()
    document()
