"""Character error rate and reference files (pipeline.speech.evaluation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import RecordError
from pipeline.speech import evaluation

# -- CER ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "spoken"),
    [("0", "零"), ("4", "四"), ("10", "十"), ("15", "十五"), ("50", "五十"), ("105", "一百零五"),
     ("200", "二百"), ("1010", "一千零一十"), ("20000", "二万"), ("10001", "一万零一"), ("3.5", "三点五")],
)  # fmt: skip
def test_numbers_are_read_out(number: str, spoken: str) -> None:
    assert evaluation.spell_number(number) == spoken


def test_cer_ignores_script_punctuation_numerals_and_spaces() -> None:
    assert evaluation.cer("好，3號鏈接 2萬毫安！", "好，三号链接，两万毫安。") == 0
    assert evaluation.cer("宝宝们", "宝宝们三二一") == pytest.approx(0.5)
    assert evaluation.edit_distance("kitten", "sitting") == 3


def test_references_name_the_bad_line(tmp_path: Path) -> None:
    (tmp_path / "references.jsonl").write_text(
        '{"file": "a.wav", "text": "好"}\n{"file": 3}\n', encoding="utf-8"
    )
    with pytest.raises(RecordError, match=r"references\.jsonl:2"):
        list(evaluation.references(tmp_path))
