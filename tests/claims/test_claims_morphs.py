"""Speech is read through the morphs anchors say instead of a word (pipeline/claims/morphs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.claims import Detector, load_detector
from pipeline.claims.lexicon import load_lexicon
from pipeline.claims.morphs import READINGS_LIST
from pipeline.claims.normalize import Normalised, Normaliser
from pipeline.errors import LexiconError
from tests.claims.lexicon_copies import copied_lexicons, edit

NORMALISE = Normaliser().text


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("小糖人都可以吃", "糖尿病患者都可以吃"),
        ("某药某店买不到这个价", "药店买不到这个价"),
        ("提高免某力", "提高免疫力"),  # a reading of the same length
        ("保护心灵之窗", "保护眼睛"),
        ("这个黄某斑很难去", "这个黄褐斑很难去"),  # read before the 某 is dropped as a mark (黄斑)
        ("宝宝们晚上好", "宝宝们晚上好"),
    ],
)
def test_speech_reads_each_morph_as_the_word_it_stands_for(detector: Detector, text: str, read: str) -> None:
    assert detector.normalised(text, source="speech").text == read


def test_listing_text_is_not_read_through_morphs(detector: Detector) -> None:
    assert detector.normalised("小糖人 免某力", source="listing").text == "小糖人 免某力"


@pytest.mark.parametrize(
    ("text", "category", "said", "read_as"),
    [
        ("小唐人都可以放心吃", "medical", "小唐人都可以", "糖尿病患者都可以"),
        ("这个能提高免毛粒", "efficacy", "提高免毛粒", "提高免疫力"),  # a reading of the same length
        ("这个对小便小秘很管用", "medical", "对小便小秘很管用", "对便秘很管用"),
        ("白大褂都推荐", "authority", "白大褂都推荐", "医生都推荐"),
    ],
)
def test_a_claim_through_a_morph_reports_what_was_said_and_how_it_was_read(
    detector: Detector, text: str, category: str, said: str, read_as: str
) -> None:
    claims = [c for c in detector.detect(text, source="speech") if c.category == category]
    assert claims, detector.explain(text)
    claim = claims[0]
    assert claim.term == said == text[claim.start : claim.end]
    assert claim.extra["read_as"] == read_as


def test_the_same_words_unread_are_no_claim_without_the_readings(tmp_path: Path) -> None:
    """The readings are what makes these claims: with the list gone, the morphs are just words."""
    copy = copied_lexicons(tmp_path)
    path = copy / "knowledge/speech.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index(f"  {READINGS_LIST}:")], encoding="utf-8")
    without = Detector(load_lexicon(copy, NORMALISE))
    said = ["小唐人都可以放心吃", "某样某店卖一百九十九米", "白大褂都推荐"]
    assert [without.detect(text) for text in said] == [[], [], []]
    assert all(load_detector().detect(text) for text in said)


def test_every_shipped_morph_is_no_common_word_and_reads_as_another(detector: Detector) -> None:
    (readings,) = [k for k in detector.lexicon.knowledge if k.name == READINGS_LIST]
    assert len(readings.terms) == len(readings.readings) >= 100
    assert all(m != r for m, r in zip(readings.terms, readings.readings, strict=True))
    common = {m for m in readings.terms if detector._tokenizer.is_common_word(m)}
    assert common == {"白大褂"}  # kept by hand: the doctor's coat is how rooms say 医生


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    readings:\n", "    terms: [x]\n    readings:\n", r"expected either terms or readings"),
        ("      心灵之窗: 眼睛", "      心灵之窗: 心灵之窗", r"readings: 心灵之窗: reads as itself"),
        ("      心灵之窗: 眼睛", "      心灵之窗: ''", r"readings: 心灵之窗: expected the word"),
        ("      心灵之窗: 眼睛", "      心灵之窗: [眼睛]", r"readings: 心灵之窗: expected the word"),
    ],
)  # fmt: skip
def test_a_malformed_list_of_readings_names_the_list_and_the_reading(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    copy = copied_lexicons(tmp_path)
    edit(copy / "knowledge/speech.yaml", old, new)
    with pytest.raises(LexiconError, match="speech.yaml: list MORPH_READING: " + message):
        load_lexicon(copy, NORMALISE)


@st.composite
def _replacements(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]]]:
    text = draw(st.text(alphabet="甲乙丙丁戊", min_size=1, max_size=12))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        if end > start:
            spans.append((start, end, draw(st.text(alphabet="子丑寅", min_size=1, max_size=4))))
    return text, spans


@given(_replacements(), st.sets(st.integers(0, 20), max_size=3))
def test_a_reading_maps_back_to_the_whole_span_it_replaces(
    case: tuple[str, list[tuple[int, int, str]]], dropped: set[int]
) -> None:
    text, spans = case
    base = Normalised(text, text).without(i for i in dropped if i < len(text) - 1)  # offsets mapped already
    spans = [(s, e, r) for s, e, r in spans if e <= len(base.text)]
    read = base.replaced(spans)
    shift, last, expected = 0, 0, []
    for start, end, reading in spans:
        for i in range(last, start):  # a character outside every span keeps its original place
            assert read.span(i + shift, i + shift + 1) == base.span(i, i + 1)
        at = start + shift
        assert read.text[at : at + len(reading)] == reading
        for j in range(at, at + len(reading)):  # each character of a reading stands for the span
            assert read.span(j, j + 1) == base.span(start, end)
        expected += [base.text[last:start], reading]
        shift += len(reading) - (end - start)
        last = end
    assert read.text == "".join(expected) + base.text[last:]
    for i in range(last, len(base.text)):
        assert read.span(i + shift, i + shift + 1) == base.span(i, i + 1)


def test_a_stand_in_for_one_syllable_is_read_through_as_a_weak_homophone(tmp_path: Path) -> None:
    """免牟利 is no reading of the list: 牟 stands in for 疫 (MORPH_STAND_IN) and 利 reads like 力."""
    claims = load_detector().detect("吃了提高免牟利")
    assert [(c.rule_id, c.term, c.extra["read_as"]) for c in claims] == [
        ("EFF-HEALTH-FUNCTION", "提高免牟利", "提高免疫力")
    ]
    assert load_detector().detect("免牟利") == []  # weak: nothing around it to rely on
    copy = copied_lexicons(tmp_path)
    edit(copy / "knowledge/speech.yaml", "    terms: [某, 母, 抹, 膜, 毛, 牡, 牟, 谋]\n", "    terms: [某]\n")
    assert Detector(load_lexicon(copy, NORMALISE)).detect("吃了提高免牟利") == []


@pytest.mark.parametrize("text", ["羊毛衫很保暖", "父母都说好", "这件毛衣是纯羊毛的", "抹茶味的很好喝"])
def test_stand_in_characters_in_ordinary_words_stay_what_they_are(detector: Detector, text: str) -> None:
    assert detector.detect(text) == []
