"""The console's labels (pipeline/console/labels.py): every code a page shows has a name in both
languages, cards and audit entries read as labelled text, times are local, and refusals are said
in the reader's language."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import pipeline
from pipeline.checks.cards import CardFinding
from pipeline.console import labels
from pipeline.console.app import _REFUSALS
from pipeline.console.i18n import TEXT
from pipeline.console.labels import (
    action_label,
    audit_details,
    audit_target,
    card_fields,
    chart_labels,
    decision_label,
    finding_reason,
    kind_label,
    legal_basis_text,
    local_datetime,
    message_text,
    role_label,
    value_label,
    verification_lines,
)
from pipeline.console.users import ROLES
from pipeline.ledger.qualifications import load_rules
from pipeline.records import LedgerEntry, ListingEvent, Qualification, to_dict
from pipeline.reporting.categories import LABELS
from pipeline.reporting.evidence import Verification
from pipeline.reporting.lifecycle import ACTIONS
from pipeline.reporting.scope import Period, ScopeError

LANGS = ("zh", "en")
TZ = "Asia/Shanghai"


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def test_every_table_names_every_code_in_both_languages() -> None:
    tables = [
        labels.ROLES, labels.KINDS, labels.DECISIONS, labels.ACTIONS, labels.DETAILS, labels.FIELDS,
        labels.LISTING_EVENTS, labels.LEDGER_STATUSES, labels.PRODUCT_CATEGORIES,
        labels.QUALIFICATION_TYPES, LABELS, TEXT,
    ]  # fmt: skip
    for table in tables:
        for code, names in table.items():
            assert set(names) == {"zh", "en"}, code
            assert has_cjk(names["zh"]) or code in ("lang_switch", "sha256"), (code, names)
            assert (names["en"] and not has_cjk(names["en"])) or code == "lang_switch", (code, names)


def test_roles_and_kinds() -> None:
    assert set(ROLES) <= set(labels.ROLES)
    assert role_label("mcn_officer") == "机构合规官"
    assert role_label("certifier", "en") == "Certifier"
    assert role_label("wang") == "wang"  # a user name shown where a role may be
    assert [kind_label(k) for k in ("claims", "qualifications", "ledger")] == [
        "违规宣称",
        "资质问题",
        "台账问题",
    ]
    assert decision_label("dismiss", "en") == "Dismissed"
    assert decision_label(None) == "待复核"


def test_the_qualification_and_category_codes_of_the_lexicon_all_have_names() -> None:
    rules = load_rules()
    assert set(rules.types) <= set(labels.QUALIFICATION_TYPES)
    assert set(rules.categories) <= set(labels.PRODUCT_CATEGORIES)


def test_every_audit_action_written_has_a_name() -> None:
    written: set[str] = set(_REFUSALS.values())
    for path in Path(pipeline.__file__).parent.rglob("*.py"):
        code = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'record\((?:[^()"]|\([^()]*\))*?"([a-z_]+(?:\.[a-z_]+)?)"', code))
        written |= set(re.findall(r'\.audit\([^()"]*?"([a-z_]+\.[a-z_]+)"', code))
    written |= {f"review.{action}" for action in ACTIONS}  # f"review.{step.action}"
    assert {"login", "logout", "user.add", "card.approve", "login.failed", "evidence.export"} <= written
    assert written <= set(labels.ACTIONS), written - set(labels.ACTIONS)
    assert action_label("access.not_found") == "拒绝访问（未找到或无权查看）"
    assert action_label("something.new") == "something.new"  # a new code stays visible


LISTING = ListingEvent(
    ts=datetime(2026, 11, 20, 12, 0, 10, tzinfo=UTC),
    stream_id="demo-001",
    anchor_id="anchor-xiaomei",
    mcn_id="mcn-starlight",
    event="explain",
    listing_id="L1",
    title="玻尿酸保湿面霜 50g",
    brand="水润坊",
    category="cosmetics",
    product_id="P-1001",
    price=89.0,
    qualifications=(Qualification("cosmetics_filing", "浙G妆网备字2023001147"),),
    selling_points="深层保湿，质地轻薄",
    extra={"at_segment": 2},
)
LEDGER = LedgerEntry(
    "P-1001", "mcn-starlight", "玻尿酸保湿面霜 50g", "水润坊", "cosmetics", "approved",
    supplier="杭州水润坊", reviewed_at=date(2026, 9, 2), approved_claims=("深层保湿", "质地轻薄"),
    qualifications=(Qualification("cosmetics_filing", "浙G妆网备字2023001147", date(2027, 6, 30)),),
)  # fmt: skip


@pytest.mark.parametrize("language", LANGS)
def test_a_listing_card_is_labelled_fields_without_internal_keys(language: str) -> None:
    raw = json.loads(json.dumps(to_dict(LISTING), default=str))  # as the warehouse keeps it
    fields = card_fields(raw, language, TZ)  # type: ignore[arg-type]
    text = "\n".join(f"{f.label} {' '.join(f.values)}" for f in fields)
    for internal in (
        "at_segment",
        "valid_to",
        "None",
        "stream_id",
        "anchor_id",
        "cosmetics_filing",
        "explain",
    ):
        assert internal not in text, (internal, text)
    assert "T12:00" not in text
    assert "+00:00" not in text
    by_key = {f.key: f for f in fields}
    assert [f.key for f in fields][:3] == ["title", "brand", "category"]
    if language == "zh":
        assert by_key["category"].values == ("普通化妆品",)
        assert by_key["qualifications"].values == ("普通化妆品备案 浙G妆网备字2023001147，未注明有效期",)
        assert by_key["price"].label == "价格（元）"
        assert by_key["price"].values == ("89.00",)
    else:
        assert by_key["qualifications"].values == ("Cosmetics filing 浙G妆网备字2023001147, no expiry given",)
        assert by_key["category"].label == "Category"


def test_a_ledger_row_names_its_status_and_lists_each_claim() -> None:
    raw = json.loads(json.dumps(to_dict(LEDGER), default=str))
    by_key = {f.key: f for f in card_fields(raw, "zh", TZ)}
    assert by_key["status"].label == "选品审核"
    assert by_key["status"].values == ("已通过",)
    assert by_key["approved_claims"].values == ("深层保湿", "质地轻薄")
    assert by_key["qualifications"].values == ("普通化妆品备案 浙G妆网备字2023001147，有效期至 2027-06-30",)
    assert by_key["reviewed_at"].values == ("2026-09-02",)
    assert by_key["test_report"].values == ("—",)
    assert "mcn_id" not in by_key


def test_an_mcns_own_columns_keep_their_names() -> None:
    fields = card_fields({"title": "面霜", "extra": {"直播间专享": "是"}}, "zh", TZ)
    assert [(f.label, f.values) for f in fields] == [("商品标题", ("面霜",)), ("直播间专享", ("是",))]
    assert card_fields(None, "zh", TZ) == []


def test_times_are_local_and_readable() -> None:
    instant = datetime(2026, 11, 20, 12, 0, 10, 775000, tzinfo=UTC)
    assert local_datetime(instant, TZ) == "2026-11-20 20:00:10"
    assert local_datetime("2026-11-20T20:00:10.775000+08:00", TZ) == "2026-11-20 20:00:10"
    assert local_datetime(datetime(2026, 11, 20, 12), TZ) == "2026-11-20 20:00:00"  # naive: UTC
    assert local_datetime(None, TZ) == ""
    assert local_datetime("not a time", TZ) == "not a time"


def test_audit_details_read_as_labelled_text() -> None:
    details = json.dumps({"bytes": 0, "method": "GET", "status": 404, "via": "console"})
    assert audit_details(details, "zh") == [
        ("字节数", "0"), ("请求方法", "GET"), ("状态码", "404"), ("途径", "控制台"),
    ]  # fmt: skip
    assert audit_details('{"role": "mcn_officer"}', "en") == [("Role", "MCN compliance officer")]
    assert audit_details("", "zh") == []
    assert audit_details("not json", "zh") == [("", "not json")]
    assert audit_target("anchor anchor-xiaomei in 2026-11", "zh") == "主播 anchor-xiaomei，2026-11"
    assert audit_target("card:mcn-starlight/P-1001/v2", "zh") == "卖点卡 mcn-starlight/P-1001 第 2 版"
    assert audit_target("/violations/x", "zh") == "/violations/x"


def test_refusals_are_said_in_the_readers_language() -> None:
    with pytest.raises(ScopeError) as refused:
        Period.parse("bad", TZ)
    assert message_text(str(refused.value), "zh") == "周期“bad”不是 YYYY-MM 格式的月份"
    assert message_text(str(refused.value), "en") == str(refused.value)
    assert message_text("passwords need at least 12 characters", "zh") == "密码至少需要 12 个字符"
    assert message_text("unknown MCN 'mcn-x': no ledger or stream names it (import…)", "zh").startswith(
        "未知机构“mcn-x”"
    )
    assert message_text("some new English refusal", "zh") == ""  # never English on a Chinese page
    assert message_text("some new English refusal", "en") == "some new English refusal"
    assert message_text("manifest.json: files is not a list", "zh") == "manifest.json：格式错误或无法读取"


def test_every_password_and_account_refusal_has_a_chinese_text() -> None:
    from pipeline.console.passwords import weakness

    for password in ("   ", "short", "x" * 300, "wang wang wang wang", "abcdefghijklmnop", "password2024!"):
        reason = weakness(password, "wang", 12)
        assert reason is not None
        assert has_cjk(message_text(reason, "zh")), reason


def test_card_finding_reasons_in_chinese() -> None:
    reason = (
        "'美白淡斑' needs cosmetics_special_registration valid at 2026-12-04; holds cosmetics_filing "
        "浙G妆网备字2023001147 (category cosmetics)"
    )
    assert finding_reason(reason, "zh") == (
        "“美白淡斑”须持有在 2026-12-04 有效的特殊化妆品注册证；"
        "现有：普通化妆品备案 浙G妆网备字2023001147（品类：普通化妆品）"
    )
    english = finding_reason(reason, "en")
    assert "cosmetics_special_registration" not in english
    assert "Special cosmetics registration" in english
    assert finding_reason("price claim '全网最低价'", "zh") == "价格违法宣传：“全网最低价”"
    assert finding_reason("price claim '全网最低价'", "en") == "False price claim: '全网最低价'"
    medical = "medical claim '消炎' for a product that is no medicine (category food)"
    assert finding_reason(medical, "zh") == "对非药品、非医疗器械的商品作医疗宣称“消炎”（品类：食品）"
    assert CardFinding.__dataclass_fields__["reason"]  # the field the page reads


def test_legal_basis_in_the_readers_language() -> None:
    english = "Cosmetics Supervision and Administration Regulation arts. 16-17"
    both = f"《化妆品监督管理条例》第十六条、第十七条; {english}"
    assert legal_basis_text(both, "zh") == "《化妆品监督管理条例》第十六条、第十七条"
    assert legal_basis_text(both, "en") == english
    assert (
        legal_basis_text("《广告法》第九条第三项", "en") == "《广告法》第九条第三项"
    )  # one language only: kept
    assert legal_basis_text(None, "zh") == ""


def test_verification_lines_in_both_languages() -> None:
    untrusted = Verification([], files=3, fingerprint="abc", trusted=False, files_checked=False)
    done, missing = verification_lines(untrusted, "zh")
    assert done == ["manifest.json 由证据包内的密钥签名，密钥编号 abc"]
    assert missing == ["签名者：密钥 abc 不是受信任的密钥", "文件：签名密钥不受信任，未读取"]
    verified = Verification([], 3, "abc", True, "anchor a in 2026-11", "this installation's key", True)
    assert verification_lines(verified, "en") == (verified.checked(), verified.not_checked())
    assert verification_lines(verified, "zh")[0][-1] == "该密钥受信任（本系统的签名密钥）"


@pytest.mark.parametrize("language", LANGS)
def test_the_charts_name_every_code(language: str) -> None:
    names = chart_labels(language)  # type: ignore[arg-type]
    assert set(names["kinds"]) == {"claims", "qualifications", "ledger"}
    assert set(names["categories"]) == set(LABELS)
    chinese = language == "zh"
    assert all(has_cjk(n) == chinese for table in names.values() for n in table.values())
    assert value_label("category", "cosmetics", language) == ("普通化妆品" if chinese else "Cosmetics")  # type: ignore[arg-type]
