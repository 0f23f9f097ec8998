"""Qualification rules: loading and validating the YAML, number formats, expiry."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from pipeline.errors import LexiconError
from pipeline.ledger.qualifications import (
    default_rules_path,
    expires_within,
    is_expired,
    load_rules,
    normalise_number,
)
from pipeline.records import Qualification

RULES = load_rules()
CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("qtype", "number"),
    [
        ("cosmetics_filing", "浙G妆网备字2023001147"),
        ("cosmetics_filing", "国妆网备进字（京）2021001234"),  # full-width brackets
        ("cosmetics_filing", "国妆网备进字【沪】2022000321"),
        ("cosmetics_filing", "粤G妆网备字 2022 012345"),  # spaces
        ("cosmetics_special_registration", "国妆特字G20210123"),
        ("cosmetics_special_registration", "国妆特进字J20200456"),
        ("food_production_license", "SC11664010600017"),
        ("food_production_license", "ｓｃ１１６６４０１０６０００１７"),  # full-width letters and digits
        ("health_food_registration", "国食健注G20170396"),
        ("health_food_registration", "国食健注J20180012"),
        ("health_food_filing", "食健备G202032000123"),
        ("health_food_filing", "食健备J202100000045"),
        ("infant_formula_registration", "国食注字YP20170001"),
        ("medical_device_registration", "国械注准20153460123"),
        ("medical_device_registration", "粤械注准20182140456"),
        ("medical_device_registration", "国械注进20163660789"),
        ("medical_device_filing", "粤穗械备20150001"),
        ("medical_device_filing", "国械备20190012"),
        ("ccc", "2023011001123456"),
    ],
)
def test_well_formed_numbers_fit_their_type(qtype: str, number: str) -> None:
    assert RULES.types[qtype].fits(number)


@pytest.mark.parametrize(
    ("qtype", "number", "why"),
    [
        ("cosmetics_filing", "浙G妆网备字202300114", "serial one digit short"),
        ("cosmetics_filing", "X G妆网备字2023001147", "not a province"),
        ("cosmetics_special_registration", "国妆特字20210123", "G missing"),
        ("cosmetics_special_registration", "浙G妆网备字2023001147", "a filing is not a registration"),
        ("food_production_license", "SC1166401060001", "13 digits"),
        ("food_production_license", "QS11664010600017", "old QS prefix"),
        ("health_food_registration", "国食健注X20170396", "neither G nor J"),
        ("health_food_filing", "食健备J202132000045", "imported filings have 00 where the province goes"),
        ("infant_formula_registration", "国食注字20170001", "YP missing"),
        ("medical_device_registration", "国械注准2015346012", "six digits after the year"),
        ("medical_device_filing", "国械备2019001", "serial short"),
        ("ccc", "202301100112345", "15 digits"),
        ("ccc", "2023-0110-0112-3456", "dashes are not part of the number"),
    ],
)
def test_malformed_numbers_do_not_fit(qtype: str, number: str, why: str) -> None:
    assert not RULES.types[qtype].fits(number), why


def test_normalise_number_makes_full_width_half_width() -> None:
    assert normalise_number(" 国妆网备进字（京）２０２１ ００１２３４ ") == "国妆网备进字(京)2021001234"
    assert normalise_number("sc 1166") == "SC1166"


def test_requirements_of_categories() -> None:
    (health,) = RULES.requirements("health_food")
    assert set(health.any_of) == {"health_food_registration", "health_food_filing"}
    assert RULES.requirements("apparel") == ()
    assert RULES.requirements("no_such_category") == ()
    assert len(RULES.requirements("cosmetics", "cosmetics_special")) == 2
    assert len(RULES.requirements("toys", "electronics_ccc")) == 1  # the same requirement once


def test_every_check_has_a_rule() -> None:
    assert {c.kind for c in RULES.checks.values()} == {"ledger", "qualification"}
    assert RULES.checks["off_ledger"].rule_id == "check.off_ledger"


def test_expiry_is_inclusive_of_the_last_day_in_the_event_offset() -> None:
    q = Qualification("ccc", "2023011001123456", date(2026, 11, 20))
    assert not is_expired(q, datetime(2026, 11, 20, 23, 59, tzinfo=CST))
    assert is_expired(q, datetime(2026, 11, 21, 0, 0, tzinfo=CST))
    # 2026-11-20T17:00Z is already the 21st in Beijing
    assert is_expired(q, datetime(2026, 11, 20, 17, 0, tzinfo=UTC).astimezone(CST))
    assert not is_expired(Qualification("ccc", "2023011001123456"), date(2099, 1, 1))


def test_state_orders_unknown_invalid_expired_valid() -> None:
    at = date(2026, 11, 20)
    assert RULES.state(Qualification("nope", "1"), at) == "unknown_type"
    assert RULES.state(Qualification("ccc", "123"), at) == "invalid"
    assert RULES.state(Qualification("ccc", "2023011001123456", date(2026, 1, 1)), at) == "expired"
    assert RULES.state(Qualification("ccc", "2023011001123456", date(2027, 1, 1)), at) == "valid"


def test_expires_within() -> None:
    q = Qualification("ccc", "2023011001123456", date(2026, 12, 10))
    assert expires_within(q, date(2026, 11, 20), 30)
    assert not expires_within(q, date(2026, 11, 1), 30)
    assert not expires_within(q, date(2026, 12, 11), 30)  # already expired: not "soon"


def _broken(tmp_path: Path, edit: str) -> Path:
    data = yaml.safe_load(default_rules_path().read_text(encoding="utf-8"))
    if edit == "pattern":
        data["qualification_types"]["ccc"]["formats"][0]["pattern"] = "^(\\d{16}$"
    elif edit == "example":
        data["qualification_types"]["ccc"]["formats"][0]["example"] = "123"
    elif edit == "unknown_type":
        data["categories"]["toys"]["requires"] = [{"any_of": ["cccc"]}]
    elif edit == "severity":
        data["checks"]["off_ledger"]["severity"] = "critical"
    elif edit == "missing_check":
        del data["checks"]["invalid_qualification"]
    path = tmp_path / "qualifications.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("pattern", "qualification_types.ccc.formats[0]: pattern does not compile"),
        ("example", "qualification_types.ccc.formats[0]: example '123' does not match"),
        ("unknown_type", "categories.toys.requires[0]: unknown qualification type(s) cccc"),
        ("severity", "checks.off_ledger: 'severity' must be one of"),
        ("missing_check", "checks: missing invalid_qualification"),
    ],
)
def test_bad_rules_fail_on_load_naming_the_entry(tmp_path: Path, edit: str, message: str) -> None:
    path = _broken(tmp_path, edit)
    with pytest.raises(LexiconError, match=re.escape(message)) as raised:
        load_rules(tmp_path)  # a directory means its qualifications.yaml
    assert str(raised.value).startswith(f"{path}: ")


def test_unreadable_rules(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [", encoding="utf-8")
    with pytest.raises(LexiconError, match="not valid YAML"):
        load_rules(tmp_path / "bad.yaml")
