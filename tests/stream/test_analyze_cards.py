"""`claimwatch analyze --card`: the sample's recorded audio held against approved cards, end to end
(decode, Whisper, detector, monitor), the off-card violations in its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.commands.main import main
from pipeline.sample import load_sample
from tests.paths import DATA

pytestmark = pytest.mark.slow

SAMPLE = load_sample()
CARDS = DATA / "cards"


def test_analyze_marks_what_is_off_the_approved_cards(tmp_path: Path) -> None:
    out = tmp_path / "violations.jsonl"
    args = [
        "analyze", "--audio", str(SAMPLE.audio), "--listings", str(CARDS / "listings_offcard.jsonl"),
        "--ledger", str(SAMPLE.ledger), "--stream-id", SAMPLE.stream_id, "--anchor-id", SAMPLE.anchor_id,
        "--mcn-id", SAMPLE.mcn_id, "--started-at", SAMPLE.started_at.isoformat(), "--out", str(out),
        "--card", str(CARDS / "cream_card.md"), "--card", str(CARDS / "pajamas_card.docx"),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args, env={"CLAIMWATCH_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    marked = {(v["product_id"], v["category"]) for v in found if v["off_card"] and v["kind"] == "claim"}
    assert {("P-1001", "price"), ("P-1001", "efficacy"), ("P-1004", "superstition")} <= marked
    statements = [v for v in found if v["category"] == "off_card"]
    assert [(v["kind"], v["product_id"], v["term"]) for v in statements] == [("ledger", "P-1004", "新疆")]
    assert not [v for v in found if v["off_card"] and v["product_id"] == "P-1002"]  # no card: not judged
