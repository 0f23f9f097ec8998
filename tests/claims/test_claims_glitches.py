"""Speech is read past its fillers, masking marks and stutters (pipeline/claims/glitches.py)."""

from __future__ import annotations

import pytest

from pipeline.claims import Detector
from pipeline.claims.normalize import Normaliser


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("这款美呃白精华", "这款美白精华"),  # a filler inside a word
        ("嗯这个关某节不好", "这个关节不好"),  # a masking mark inside a word
        ("我们过临临床床验证", "我们过临床验证"),  # stuttered characters
        ("有班但美美白直接", "有班但美白直接"),  # 美美 is a word, but 美白 runs on from it
        ("效效果很好", "效果很好"),
        ("老年什么斑晒什么斑都能管", "老年斑晒斑都能管"),  # an infix inside a word the lists hold
        ("对关节有道小帮小助", "对关节有道帮助"),  # 小 before each half of a word
        ("有什么问题尽管问", "有什么问题尽管问"),  # no word is left when 什么 goes
        ("小猫小狗都喜欢", "小猫小狗都喜欢"),  # 猫狗 is no word
        # kept: a determiner 某, a doubled lexicon word, common doubled words, numerals
        ("某品牌的某个主播说", "某品牌的某个主播说"),
        ("痘痘没了", "痘痘没了"),
        ("宝宝们看看", "宝宝们看看"),
        ("四百九九十九块", "四百九九十九块"),
    ],
)
def test_speech_is_read_without_its_glitches(detector: Detector, text: str, read: str) -> None:
    assert detector.normalised(text, source="speech").text == read


def test_listing_text_keeps_them(detector: Detector) -> None:
    assert detector.normalised("关某节 临临床床", source="listing").text == "关某节 临临床床"


@pytest.mark.parametrize(
    ("text", "category", "term"),
    [
        ("它给你做到没有不好的做某用", "guarantee", "没有不好的做某用"),  # 某 dropped, then 做用 → 作用
        ("宝宝们这个美呃白效果特别好", "efficacy", "美呃白"),
        ("有班但美版美美白直接让你变白", "efficacy", "美白"),
    ],
)
def test_a_claim_through_a_glitch_reports_what_was_said(
    detector: Detector, text: str, category: str, term: str
) -> None:
    claims = [c for c in detector.detect(text, source="speech") if c.category == category]
    assert claims
    assert claims[0].term == term
    assert text[claims[0].start : claims[0].end] == term


@pytest.mark.parametrize(
    "text", ["某宝上卖得便宜", "张某某说这个很好用", "哈哈哈哈宝宝们晚上好", "常常熬夜的姐妹看看"]
)
def test_no_claim_from_reading_past_glitches(detector: Detector, text: str) -> None:
    assert detector.detect(text, source="speech") == []


def test_dropping_characters_keeps_the_map_to_the_original() -> None:
    normalised = Normaliser()("百分百 关某节", join_words=True)  # 100% 关某节 (rewrite, then a gap dropped)
    without = normalised.without([normalised.text.index("某")])
    assert without.text == "100%关节"
    start, end = without.span(4, 6)
    assert normalised.original[start:end] == "关某节"
    assert without.span(0, 4) == (0, 3)
