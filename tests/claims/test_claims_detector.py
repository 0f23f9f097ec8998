"""The detector: its public API, each category, each context rule, ASR homophones, and offsets."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.claims import Detector, load_detector
from pipeline.claims.matching import TermIndex
from pipeline.records import Claim, decode, encode

DETECTOR: Detector = load_detector()


def found(text: str, source: str = "speech") -> set[tuple[str, str]]:
    """(category, term) of each claim."""
    return {(c.category, c.term) for c in DETECTOR.detect(text, source=source)}  # type: ignore[arg-type]


def categories(text: str, source: str = "speech") -> set[str]:
    return {category for category, _ in found(text, source)}


def reasons(text: str, rule_id: str) -> set[str | None]:
    return {v.reason for v in DETECTOR.explain(text) if v.candidate.entry.rule_id == rule_id}


# --- the public API -------------------------------------------------------------------------


def test_claims_are_records_with_exact_offsets_and_the_lexicon_version() -> None:
    text = "家人们，这款面霜全网最低价！"
    claims = DETECTOR.detect(text)
    assert claims, claims
    for claim in claims:
        assert isinstance(claim, Claim)
        assert text[claim.start : claim.end] == claim.term
        assert claim.lexicon_version == DETECTOR.version
        assert claim.severity in ("low", "medium", "high")
        assert claim.rule_id
        assert claim.legal_basis
        assert decode(Claim, encode(claim)) == claim
    price = next(c for c in claims if c.category == "price")
    assert (price.term, price.start, price.end) == ("全网最低价", 8, 13)
    assert price.rewrite == "直播间专享价"


def test_the_default_detector_uses_the_settings_directory() -> None:
    assert load_detector() is DETECTOR


def test_efficacy_claims_carry_the_qualifications_that_make_them_lawful() -> None:
    (whitening,) = DETECTOR.detect("这款面霜能美白")
    assert whitening.requires == ("cosmetics_special_registration",)
    # a registered health-food function: a filing (食健备) covers nutrient supplements only
    (immunity,) = DETECTOR.detect("吃了能增强免疫力")
    assert immunity.requires == ("health_food_registration",)
    (oral,) = [c for c in DETECTOR.detect("胶原蛋白饮，喝了美白") if c.category == "efficacy"]
    assert oral.requires == ("health_food_registration",)
    assert DETECTOR.detect("每天一片，补充钙和维生素D") == []  # a nutrient claim, which a filing covers


def test_offsets_point_into_the_original_text_through_normalisation() -> None:
    text = "這款面霜百分之百有效，ＮＯ．１！"
    for claim in DETECTOR.detect(text):
        assert text[claim.start : claim.end] == claim.term
    assert ("guarantee", "百分之百有效") in found(text)
    assert ("absolute", "ＮＯ．１") in found(text)


def test_one_claim_per_category_where_matches_overlap() -> None:
    claims = DETECTOR.detect("全网最低价")
    assert sorted(c.category for c in claims) == ["absolute", "price"]
    assert {c.term for c in claims} == {"全网最低价"}


def test_a_claim_at_the_very_end_ends_there() -> None:
    terms = {t for e in DETECTOR.lexicon.entries if e.kind in ("terms", "words") for t in e.terms}
    for term in sorted(terms):
        text = "你看" + term
        for claim in DETECTOR.detect(text, source="listing"):
            assert claim.end <= len(text), (text, claim)
            assert text[claim.start : claim.end] == claim.term


def test_empty_and_claim_free_texts() -> None:
    assert DETECTOR.detect("") == []
    assert DETECTOR.detect("今天给大家带来四款好物") == []
    assert DETECTOR.detect("   ", source="listing") == []


# --- one test per category (more in tests/data/claims_cases.jsonl) ----------------------------


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        ("这是最好用的面霜", ("absolute", "最好用")),
        ("销量第一的品牌", ("absolute", "销量第一")),
        ("全网最低价，不买亏了", ("price", "全网最低价")),
        ("原价三百九十九，今天只要九十九", ("price", "原价三百九十九")),
        ("这个茶能降血压", ("medical", "降血压")),
        ("这个面膜能美白祛斑", ("efficacy", "美白")),
        ("七天见效，无效退款", ("guarantee", "七天见效")),
        ("专家推荐的奶粉", ("authority", "专家推荐")),
        ("戴上能招财", ("superstition", "招财")),
    ],
)
def test_each_category(text: str, claim: tuple[str, str]) -> None:
    assert claim in found(text)


@pytest.mark.parametrize(
    "text",
    ["最近很忙", "最后三单", "第一次来直播间", "一号链接", "最多拍两件", "第一步先洗脸", "颜色很白",
     "保湿效果好", "七天无理由退货", "正品保证", "有质检报告", "红色很喜庆", "生病了请去医院",
     "今天直播间有优惠券"],
)  # fmt: skip
def test_the_taxonomys_do_not_flag_examples(text: str) -> None:
    assert found(text) == set()


# --- one test per context rule ----------------------------------------------------------------

CONTEXT_RULES = {
    "CTX-NEGATION": ("这不是防脱洗发水", "EFF-HAIR"),
    "CTX-QUESTION": ("这个能美白吗", "EFF-WHITENING"),
    "CTX-QUESTION-MARK": ("泡脚就能降血糖？", "MED-TERMS"),
    "CTX-META": ("有人问是不是销量第一", "ABS-FIRST"),
    "CTX-META-SENTENCE": ("这些主播在带货中频繁使用“全网最低价”的营销策略", "PRC-LOWEST"),
    "CTX-META-AFTER": ("说能治失眠的都是骗人的", "MED-DISEASE"),
    "CTX-META-NEXT": ("全网最低价，这个我们不能这么说", "PRC-LOWEST"),
    "CTX-NAME-QUOTED": ("“顶级”是这家的品牌名", "ABS-TOP-GRADE"),
    "CTX-NAME-CALLED": ("这个牌子叫极品工坊", "ABS-TOP-GRADE"),
    "CTX-TRADEMARK": ("极品工坊是他家的注册商标", "ABS-TOP-GRADE"),
    "CTX-SELF-COMPARISON": ("这是我们家历代最轻的一款", "ABS-MOST"),
    "CTX-BOUNDED-FACT": ("据欧睿数据，2023年中国市场扫地机器人销量第一", "ABS-FIRST"),
    "CTX-CONSUMPTION-TIP": ("最佳食用期是开封后七天", "ABS-MOST"),
}


@pytest.mark.parametrize("rule_id", list(CONTEXT_RULES))
def test_each_context_rule(rule_id: str) -> None:
    text, entry = CONTEXT_RULES[rule_id]
    assert reasons(text, entry) == {rule_id}
    assert found(text) == set()


def test_every_context_rule_has_a_test() -> None:
    assert {rule.rule_id for rule in DETECTOR.lexicon.contexts} == set(CONTEXT_RULES)


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("最近好多宝宝在问", "ABS-MOST"),  # temporal
        ("最后三十单", "ABS-MOST"),  # ordinal
        ("最多拍两件", "ABS-MOST"),  # quantity
        ("最大输出二十瓦", "ABS-MOST"),  # specification
        ("最好先在耳后试用", "ABS-MOST"),  # advice
        ("第一时间发货", "ABS-FIRST"),  # "immediately"
        ("唯一需要注意的是冷藏", "ABS-ONLY"),
        ("特级红茶，这是国家标准里的等级", "ABS-GRADE"),  # standard grade
        ("这件防晒衣很透气", "EFF-SUNSCREEN"),  # clothing
        ("保证四十八小时内发货", "GUA-PROMISE"),  # delivery, not effect
        ("直播间专供款", "AUT-EXCLUSIVE-SUPPLY"),  # channel, not state
        ("包裹到转运中心了", "SUP-LUCK"),  # logistics
    ],
)
def test_entry_exceptions(text: str, entry: str) -> None:
    assert None not in reasons(text, entry)


@pytest.mark.parametrize(
    ("text", "hidden"), [("第一次来", "第一"), ("唯一性很好", "唯一"), ("招财猫摆件", "招财")]
)
def test_a_whole_word_entry_stays_hidden_inside_a_longer_word(text: str, hidden: str) -> None:
    assert all(v.matched != hidden for v in DETECTOR.explain(text))


# --- speech recognition homophones ------------------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "category", "term"),
    [
        ("这款面霜每白效果特别好", "efficacy", "每白"),
        ("用了驱搬霜", "efficacy", "驱搬"),
        ("绝对没有复作用", "guarantee", "没有复作用"),
        ("喝了能智疗胃病", "medical", "智疗胃病"),
        ("全网最低家", "price", "全网最低家"),
        ("这款钙片是一生推荐的", "authority", "一生推荐"),
        ("开车的宝宝挂一个，保平按", "superstition", "保平按"),
    ],
)
def test_homophones_in_speech(heard: str, category: str, term: str) -> None:
    assert (category, term) in found(heard, "speech")
    assert (category, term) not in found(heard, "listing")


def test_a_homophone_claim_says_how_it_was_read() -> None:
    (claim,) = DETECTOR.detect("这款面霜每白效果特别好")
    assert claim.term == "每白"
    assert claim.extra == {"read_as": "美白"}


@pytest.mark.parametrize(
    "text",
    [
        "这件衣服买了没白买",  # 没白 méi bái: another tone than 美白 měi bái
        "我的一生都在找好产品",  # 一生 is a word: nothing else speaks for 医生
        "这个直播间只要九块九",  # 间只 would cut through 直播间
        "让大家见笑了",  # 见笑 is a word
        "售价一百九十九，包邮",  # 售价 stays 售价 (not 首家)
        "十二个小时还是热的",  # 小时 is not 消失
    ],
)
def test_homophones_do_not_flood_false_alarms(text: str) -> None:
    assert found(text, "speech") == set()


# --- properties -----------------------------------------------------------------------------

FRAGMENTS = [
    "最", "第一", "全网最低价", "百分之百", "百分百", "ＮＯ．１", "美白", "每白", "副作用", "医生推荐",
    "招财",
    "不是", "广告法", "“", "”", "，", "。", "?", " ", "吗", "原价", "九十九", "今天只要", "1", "%", "no", ".",
    "這", "ａ", "\u3000", "\n", "七天", "见效", "治疗", "高血压", "转运", "就", "了",
]  # fmt: skip
claimish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=12).map("".join)
ends_with_a_term = st.tuples(st.text(max_size=8), st.sampled_from(FRAGMENTS)).map("".join)


def test_the_term_index_finds_every_string_exactly() -> None:
    index = TermIndex(["美白", "美白丸", "最", "最低", "最低的价"])
    assert index.scan("你看美白") == [(2, 4, "美白")]
    assert sorted(index.scan("最低")) == [(0, 1, "最"), (0, 2, "最低")]
    assert index.scan("") == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text() | claimish | ends_with_a_term, source=st.sampled_from(["speech", "listing"]))
def test_any_text_gives_claims_whose_offsets_slice_to_their_terms(text: str, source: str) -> None:
    for claim in DETECTOR.detect(text, source=source):  # type: ignore[arg-type]
        assert 0 <= claim.start < claim.end <= len(text)
        assert text[claim.start : claim.end] == claim.term


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("泡脚就能降血糖？", set()),  # the clause is asked
        ("能降血糖吗？用了就知道", set()),
        ("全网最低价，还等什么？", {"absolute", "price"}),  # the claim's clause is said, the next asked
        ("我们家遥遥领先好不好？", {"absolute"}),  # a tag question asks for agreement with the claim
    ],
)
def test_a_clause_ending_in_a_question_mark_is_asked_not_claimed(text: str, expected: set[str]) -> None:
    assert categories(text) == expected
