"""Knowledge files (lexicons/knowledge/*.yaml): loaded, validated, with their sources, as macros."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipeline.claims import Detector, load_detector
from pipeline.claims.knowledge import trie_pattern
from pipeline.claims.lexicon import load_lexicon
from pipeline.claims.normalize import Normaliser
from pipeline.config import LEXICON_DIR
from pipeline.errors import LexiconError
from tests.claims.lexicon_copies import copied_lexicons, edit

NORMALISE = Normaliser().text
LISTED = yaml.safe_load((LEXICON_DIR / "claims.yaml").read_text(encoding="utf-8"))["knowledge"]


def test_every_knowledge_list_names_sources_its_file_describes() -> None:
    lexicon = load_lexicon(LEXICON_DIR, NORMALISE)
    names = [k.name for k in lexicon.knowledge]
    assert len(names) == len(set(names)) >= 10
    for name in LISTED:
        data = yaml.safe_load((LEXICON_DIR / name).read_text(encoding="utf-8"))
        for source in data["sources"].values():
            assert source["title"].strip()
        for listed in data["lists"].values():
            assert set(listed["sources"]) <= set(data["sources"])
    assert all(k.terms and k.sources for k in lexicon.knowledge)


def test_a_knowledge_list_is_a_macro_and_a_term_list() -> None:
    lexicon = load_lexicon(LEXICON_DIR, NORMALISE)
    conditions = next(k for k in lexicon.knowledge if k.name == "DISEASE_NAME")
    assert "高血压" in conditions.terms
    medical = {e.rule_id: e for e in lexicon.entries}["MED-FOR-CONDITION"]
    assert medical.regex is not None and medical.regex.search("糖尿病患者都可以放心吃")  # noqa: PT018
    whitening = {e.rule_id: e for e in lexicon.entries}["EFF-WHITENING"]
    assert "焕白" in whitening.terms  # from the WHITENING list


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("knowledge/conditions.yaml", "name: conditions\n", "name: conditions\ncolour: red\n",
         r"conditions\.yaml: unknown key\(s\) colour"),
        ("knowledge/conditions.yaml", "    sources: [ANIMAL, COMMON]", "    sources: [ANIMAL, ICD11]",
         r"conditions\.yaml: list PET_DISEASE: sources: ICD11 not described under sources"),
        ("knowledge/conditions.yaml", "    sources: [ANIMAL, COMMON]", "    sources: []",
         r"list PET_DISEASE: sources: expected a non-empty list"),
        ("knowledge/conditions.yaml", "terms: [猫瘟, ", "terms: [猫瘟, 猫瘟, ",
         r"list PET_DISEASE: terms: listed twice: 猫瘟"),
        ("knowledge/conditions.yaml", "  PET_DISEASE:\n", "  pet_disease:\n",
         r"lists: 'pet_disease' is not an upper-case name"),
        ("knowledge/conditions.yaml", "  ANIMAL:\n    title: ", "  ANIMAL:\n    titel: ",
         r"sources: ANIMAL: expected a mapping with a title"),
        ("knowledge/authority.yaml", "  STATE_BODY:\n", "  DISEASE_NAME:\n",
         r"knowledge: list\(s\) DISEASE_NAME defined twice"),
        ("claims.yaml", "  NUM: ", "  DISEASE_NAME: 'y'\n  NUM: ",
         r"macros: DISEASE_NAME is already a knowledge list"),
        ("efficacy.yaml", "'{WHITENING}'", "'{WHITENNING}'",
         r"EFF-WHITENING\): \{WHITENNING\} is not a knowledge list"),
        ("claims.yaml", "knowledge/meta_speech.yaml,", "knowledge/meta.yaml,",
         r"knowledge: knowledge/meta\.yaml: no such file"),
        ("knowledge/conditions.yaml", "  PET_DISEASE:\n    asr: true\n",
         "  PET_DISEASE:\n    asr: yes please\n", r"list PET_DISEASE: asr: expected true or false"),
    ],
)  # fmt: skip
def test_a_malformed_knowledge_file_names_file_list_and_reason(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    copy = copied_lexicons(tmp_path)
    edit(copy / file, old, new)
    with pytest.raises(LexiconError, match=message):
        load_lexicon(copy, NORMALISE)


def test_a_list_marked_asr_is_read_through_homophones_in_speech(tmp_path: Path) -> None:
    """老寒腿, 骨质疏松 and 腰肌劳损 are no lexicon term, only names of conditions.yaml: heard as
    老韩腿, 骨质书松, 腰肌老损 they are read because their lists are marked ``asr: true``."""
    heard = ["这个膏药能缓解老韩腿", "这个能预防骨质书松", "能缓解腰肌老损"]
    assert all(load_detector().detect(text) for text in heard)
    copy = copied_lexicons(tmp_path)
    edit(copy / "knowledge/conditions.yaml", "  DISEASE_NAME:\n    asr: true\n", "  DISEASE_NAME:\n")
    unmarked = Detector(load_lexicon(copy, NORMALISE))
    assert [unmarked.detect(text) for text in heard] == [[], [], []]
    assert unmarked.detect("这个膏药能缓解老寒腿")  # as written, it is read either way


@given(
    st.lists(st.text(alphabet="高血压糖尿病癌症a.*?]^-[\\", min_size=1, max_size=5), min_size=1, max_size=16)
)
def test_the_trie_pattern_matches_exactly_the_terms(terms: list[str]) -> None:
    """Also with the look-ahead for the first characters (8 or more), set characters among them."""
    pattern = re.compile(trie_pattern(terms))
    for term in terms:
        assert pattern.fullmatch(term)
    for other in ("x", "高", "尿病癌", "]", "-"):
        assert bool(pattern.fullmatch(other)) == (other in terms)
    assert [m.group() for m in pattern.finditer("x" + "x".join(terms))] == [
        m.group()
        for m in re.finditer(
            "|".join(map(re.escape, sorted(terms, key=len, reverse=True))), "x" + "x".join(terms)
        )
    ]


def test_a_trie_of_many_first_characters_looks_ahead_for_them() -> None:
    terms = ["高血压", "糖尿病", "癌症", "痛风", "湿疹", "失眠", "便秘", "]x", "-y", "^z"]
    pattern = trie_pattern(terms)
    assert pattern.startswith("(?=[")
    assert all(re.fullmatch(pattern, t) for t in terms)
    assert re.search(pattern, "x^y-z]") is None


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("喝这个茶能预防肺气肿", "MED-ACT-ON-CONDITION"),
        ("对肠易激综合征都有效", "MED-FOR-CONDITION"),
        ("这个贴专治偏头疼", "MED-FOR-CONDITION"),
        ("坐骨神经痛患者都可以用", "MED-FOR-CONDITION"),
    ],
)
def test_widened_condition_vocabulary_is_claimed_with_a_linking_frame(text: str, rule_id: str) -> None:
    claims = load_detector().detect(text)
    assert any(c.category == "medical" and c.rule_id == rule_id and c.legal_basis for c in claims), claims


@pytest.mark.parametrize(
    "text",
    [
        "肺气肿的病人请遵医嘱使用",  # a warning, not a claim
        "这件外套很保暖，怕冷的姐妹冲",  # 怕冷 is ordinary talk, kept out of the vocabulary
        "这款耳机音质清亮，声音不嘶哑",
    ],
)
def test_widened_condition_vocabulary_leaves_near_misses_alone(text: str) -> None:
    assert [c for c in load_detector().detect(text) if c.category == "medical"] == []


def test_a_cosmetic_called_a_medical_mask_is_a_medical_claim() -> None:
    claims = load_detector().detect("这款医美面膜修护力很强")
    assert [(c.category, c.rule_id) for c in claims if c.category == "medical"] == [
        ("medical", "MED-MEDICAL-GRADE")
    ]
    assert all(c.legal_basis for c in claims)


@pytest.mark.parametrize(
    "text",
    [
        "“医美面膜”和普通面膜有什么区别？皮肤科医生来解答",  # an explainer naming the claim
        "喝醋能软化血管是真的吗？",
        "关于降血压的五个误区",
    ],
)
def test_explainer_headlines_that_name_a_claim_are_meta_speech(text: str) -> None:
    assert load_detector().detect(text) == []


def test_a_medical_mask_without_an_explainer_cue_stays_a_claim() -> None:
    assert load_detector().detect("医美面膜，敷一片修护一整晚")  # no explainer cue: still a claim


def test_diplomatic_names_are_a_list_of_their_own_that_needs_a_tie_to_the_product() -> None:
    lexicon = load_lexicon(LEXICON_DIR, NORMALISE)
    lists = {k.name: k for k in lexicon.knowledge}
    assert "大使馆" in lists["DIPLOMATIC"].terms
    assert "大使馆" not in lists["STATE_OCCASION"].terms  # the bare word is no claim: news of an embassy
    assert "国宴" in lists["STATE_OCCASION"].terms
    detector = load_detector()
    assert {c.rule_id for c in detector.detect("这款茶是驻华大使馆指定用茶")} == {"AUT-DIPLOMATIC"}
    assert detector.detect("中国驻美国大使馆举办茶文化活动，大使出席并致辞", source="listing") == []


@pytest.mark.parametrize(
    "text",
    [
        "主播被指暗示其化妆品“防癌”",  # news reporting what a seller implied
        "床垫在免费体验者眼里“包治百病”",
        "选购时注意区分祛斑美白类中的仅具物理遮盖的产品",  # consumer advice
        "需要清醒认识的是，“回本快”往往伴随激烈竞争",
    ],
)
def test_news_and_advice_that_report_a_claim_are_meta_speech(text: str) -> None:
    assert load_detector().detect(text, source="listing") == []
