"""Normalisation keeps an exact map back to the original text."""

from __future__ import annotations

import pytest

from pipeline.claims.normalize import Normaliser

NORMALISE = Normaliser()


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("這款面霜是全網最好用的", "这款面霜是全网最好用的"),  # Traditional → Simplified
        ("ＳＰＦ５０＋，１００％有效", "spf50+,100%有效"),  # full width → half width, lower case
        ("百分之百有效", "100%有效"),
        ("百分百有效", "100%有效"),
        ("百分之一百安全", "100%安全"),
        ("有效率百分之九十九", "有效率99%"),
        ("百分之九十九点九", "99.9%"),
        ("它是百分之一零零来自樱桃", "它是100%来自樱桃"),  # read digit by digit, as speech says it
        ("百分之九九的人", "99%的人"),
        ("百分之两百", "百分之两百"),  # not 2%百
        ("百分之一二三", "百分之一二三"),  # no share above 100 read digit by digit
        ("100 %纯棉", "100%纯棉"),
        ("NO.1的爆款", "no.1的爆款"),
        ("No 1 的爆款", "no.1 的爆款"),
        ("ＮＯ．１爆款", "no.1爆款"),
        ("TOP 1扫拖一体机", "top1扫拖一体机"),
        ("销量第1", "销量第一"),
        ("第10名", "第10名"),  # only 第1 itself
        ("mono1", "mono1"),  # no.1 only as a word of its own
        ("平常的一句话", "平常的一句话"),
    ],
)
def test_normalised_text(text: str, normalised: str) -> None:
    assert NORMALISE(text).text == normalised


@pytest.mark.parametrize("text", ["百分之百有效", "ＮＯ．１爆款", "销量第1名", "TOP 1 和 百分百", "这款面霜"])
def test_every_normalised_character_maps_back_inside_the_original(text: str) -> None:
    result = NORMALISE(text)
    for i in range(len(result.text)):
        start, end = result.span(i, i + 1)
        assert 0 <= start < end <= len(text)


def test_a_rewritten_piece_maps_back_to_all_of_it() -> None:
    result = NORMALISE("它百分百有效")
    assert result.text == "它100%有效"
    assert result.span(1, 5) == (1, 4)  # 100% ← 百分百
    assert result.span(2, 3) == (1, 4)  # any part of it maps to the whole
    assert result.span(5, 7) == (4, 6)  # 有效 after it


def test_transcripts_lose_the_spaces_between_chinese_words() -> None:
    result = NORMALISE("这个 不是  美白 产品, ok 好", join_words=True)
    assert result.text == "这个不是美白产品, ok 好"
    assert result.span(4, 6) == (7, 9)  # 美白, not the dropped spaces before it
    assert NORMALISE("美 白", join_words=True).span(0, 2) == (0, 3)
    assert NORMALISE("防癌抗癌 破壁灵芝孢子粉").text == "防癌抗癌 破壁灵芝孢子粉"  # listings keep them
