"""Lexicons load and validate at start-up; a malformed one fails naming file, entry and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.claims import Detector, load_detector
from pipeline.claims.lexicon import CATEGORIES, QUALIFICATION_TYPES, load_lexicon
from pipeline.claims.normalize import Normaliser
from pipeline.config import PROJECT_ROOT
from pipeline.errors import LexiconError
from tests.claims.lexicon_copies import copied_lexicons, edit

LEXICONS = PROJECT_ROOT / "lexicons"

NORMALISE = Normaliser().text


def test_the_shipped_lexicons_cover_every_category(detector: Detector) -> None:
    entries = detector.lexicon.entries
    assert {e.category for e in entries} == set(CATEGORIES)
    assert detector.version.startswith("1.")
    assert len({e.rule_id for e in entries}) == len(entries)


def test_efficacy_entries_name_the_qualifications_that_make_them_lawful(detector: Detector) -> None:
    for entry in detector.lexicon.entries:
        if entry.category == "efficacy":
            assert entry.requires, entry.rule_id
            assert set(entry.requires) <= QUALIFICATION_TYPES
            assert entry.requires in (
                ("cosmetics_special_registration",),
                ("health_food_registration",),
            ), entry.rule_id
        else:
            assert entry.requires == ()


def test_every_entry_flags_its_examples_and_not_its_counter_examples(detector: Detector) -> None:
    for entry in detector.lexicon.entries:
        for text in entry.examples:
            verdicts = detector.explain(text)
            assert any(v.candidate.entry is entry and v.reason is None for v in verdicts), (
                entry.rule_id,
                text,
            )
        for text in entry.not_claims:
            found = [c for c in detector.detect(text) if c.category == entry.category]
            assert found == [], (entry.rule_id, text, found)


def test_no_whole_word_entry_hides_inside_another_categorys_word(detector: Detector) -> None:
    """Every lexicon string is a jieba user word: a longer one would swallow a `words` term."""
    strings = [(s, e) for e in detector.lexicon.entries for s in (*e.terms, *e.keywords)]
    words = [(t, e) for e in detector.lexicon.entries if e.kind == "words" for t in e.terms]
    hidden = [
        (outer, e.rule_id, inner, f.rule_id)
        for outer, e in strings
        for inner, f in words
        if inner != outer and inner in outer and e.category != f.category
    ]
    assert hidden == []


def test_the_version_changes_with_the_content(tmp_path: Path) -> None:
    copy = copied_lexicons(tmp_path)
    before = load_lexicon(copy, NORMALISE).version
    edit(copy / "absolute.yaml", "rewrite: 高品质 / 精选", "rewrite: 高品质")
    after = load_lexicon(copy, NORMALISE).version
    assert before != after
    assert before.split("+")[0] == after.split("+")[0] == "1.1.0"


def test_the_detector_is_built_once_per_directory(tmp_path: Path) -> None:
    copy = copied_lexicons(tmp_path)
    assert load_detector(copy) is load_detector(copy)
    assert load_detector(copy) is not load_detector(LEXICONS)


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("efficacy.yaml", "    requires: [cosmetics_special_registration]\n    rewrite:", "    rewrite:",
         r"efficacy\.yaml: entry 1 \(EFF-WHITENING\): an efficacy entry must say which qualifications"),
        ("efficacy.yaml", "requires: [cosmetics_special_registration]", "requires: [cosmetics_licence]",
         r"EFF-WHITENING\): requires: unknown qualification type\(s\) cosmetics_licence"),
        ("absolute.yaml", "    terms: [最]\n", "    terms: [最]\n    words: [最]\n",
         r"absolute\.yaml: entry 1 \(ABS-MOST\): needs exactly one of terms, words, tokens, regex"),
        ("absolute.yaml", "    terms: [最]\n", "    terms: [最]\n    colour: red\n",
         r"ABS-MOST\): unknown key\(s\) colour"),
        ("absolute.yaml", "severity: medium\nlegal_basis", "severity: urgent\nlegal_basis",
         r"ABS-MOST\): severity must be low, medium or high, not 'urgent'"),
        ("absolute.yaml", "rule_id: ABS-FIRST\n", "rule_id: ABS-MOST\n",
         r"absolute\.yaml: entry ABS-MOST: rule_id already used in absolute\.yaml"),
        ("absolute.yaml", "rule_id: ABS-FIRST\n", "rule_id: first\n",
         r"entry 2 \(first\): rule_id 'first' must look like"),
        ("medical.yaml", "(?P<term>(?:治|治疗", "(?P<term>((?:治|治疗",
         r"medical\.yaml: entry 2 \(MED-DISEASE\): regex: invalid regular expression"),
        ("medical.yaml", "{DISEASE})'", "{DISEASES})'", r"MED-DISEASE\): unknown macro \{DISEASES\}"),
        ("authority.yaml", "    keywords: [军方, 军用, 军队, 部队, 军区, 军工, 军医, 军中, 军需, 随军, 将军, "
         "海军, 空军, 陆军, 武警, 航天员, 宇航员, 航天, 飞行员, 解放军]\n", "",
         r"AUT-MILITARY\): a regex entry needs keywords"),
        ("guarantee.yaml", "entries:\n", "entries: [\n", r"guarantee\.yaml: line \d+ not valid YAML"),
        ("claims.yaml", "  - id: CTX-QUESTION\n", "  - id: CTX-QUESTION\n    categories: [lies]\n",
         r"claims\.yaml: context CTX-QUESTION: unknown category 'lies'"),
        ("claims.yaml", "files: [absolute.yaml,", "files: [absolut.yaml,",
         r"claims\.yaml: files: absolut\.yaml: no such file"),
        ("superstition.yaml", "after: '^(?:中心|站", "befor: '^(?:中心|站",
         r"SUP-LUCK\): not_when\[0\]: unknown key\(s\) befor"),
        ("medical.yaml", "    keywords_needed: 2", "    keywords_needed: 0",
         r"MED-CONDITIONS-LISTED\): keywords_needed: expected a whole number of at least 1"),
        ("absolute.yaml", "    terms: [最]\n", "    terms: [最]\n    keywords_needed: 2\n",
         r"ABS-MOST\): keywords_needed: only for regex entries"),
        ("medical.yaml", "keywords: ['{DISEASE_NAME}',", "keywords: ['{DISEASE_NAMES}',",
         r"MED-CONDITIONS-LISTED\): \{DISEASE_NAMES\} is not a knowledge list"),
    ],
)  # fmt: skip
def test_a_malformed_lexicon_names_file_entry_and_reason(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    copy = copied_lexicons(tmp_path)
    edit(copy / file, old, new)
    with pytest.raises(LexiconError, match=message):
        load_lexicon(copy, NORMALISE)


def test_a_bad_token_pattern_fails_when_the_detector_is_built(tmp_path: Path) -> None:
    copy = copied_lexicons(tmp_path)
    edit(copy / "superstition.yaml", "{TEXT: {IN: [灵, 灵的]}}", "{TEXTURE: {IN: [灵, 灵的]}}")
    with pytest.raises(LexiconError, match=r"superstition\.yaml: entry SUP-EFFICACIOUS: tokens: "):
        load_detector(copy)


def test_a_directory_without_a_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match=r"claims\.yaml: no such file"):
        load_lexicon(tmp_path, NORMALISE)


def test_a_keyword_may_name_a_knowledge_list(detector: Detector) -> None:
    """MED-CONDITIONS-LISTED is triggered by any two names of its lists, not by a short list of them."""
    entry = next(e for e in detector.lexicon.entries if e.rule_id == "MED-CONDITIONS-LISTED")
    conditions = {k.name: k.terms for k in detector.lexicon.knowledge}
    assert set(conditions["SYMPTOM_NAME"]) <= set(entry.keywords)
    assert entry.keywords_needed == 2
    claims = detector.detect("心率不齐心跳加快的问题都能检测到", source="speech")
    assert [c.rule_id for c in claims if c.category == "medical"] == ["MED-CONDITIONS-LISTED"]
    assert not [c for c in detector.detect("最近有点心跳加快", source="speech") if c.category == "medical"]
