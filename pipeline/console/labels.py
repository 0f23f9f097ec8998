"""What the console shows for the codes in its data: roles, violation kinds, audit actions and
their details, the fields of a listing card and a ledger row, product categories, qualification
types, and the messages of refusals, in Chinese (the default) and English.

Static tables, loaded with the module: no page asks the warehouse for a label. A code the tables
do not know is shown as it is (a new code is visible, never hidden), except the fields kept only
for the pipeline's own bookkeeping (``at_segment``…), which a card does not show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline import legal_basis
from pipeline.console.queue_text import QUEUE_ACTIONS, QUEUE_DETAILS, QUEUE_MESSAGES
from pipeline.reporting.categories import LABELS as CATEGORY_LABELS
from pipeline.reporting.categories import Language, label, severity_label
from pipeline.reporting.lifecycle import RESULT, STATE_NAMES

Table = dict[str, dict[Language, str]]

ROLES: Table = {
    "certifier": {"zh": "认证机构", "en": "Certifier"},
    "mcn_officer": {"zh": "机构合规官", "en": "MCN compliance officer"},
    "auditor": {"zh": "审计员", "en": "Auditor"},
}

KINDS: Table = {  # violations.kind, and the per-day panel's columns (claims, qualifications, ledger)
    "claim": {"zh": "违规宣称", "en": "Claims"},
    "claims": {"zh": "违规宣称", "en": "Claims"},
    "qualification": {"zh": "资质问题", "en": "Qualifications"},
    "qualifications": {"zh": "资质问题", "en": "Qualifications"},
    "ledger": {"zh": "台账问题", "en": "Ledger"},
}

STATES: Table = dict(STATE_NAMES)  # lifecycle.State: pending, confirmed, ... overturned
DECISIONS: Table = {  # a review's decision (a lifecycle action) as the state it leaves
    action: STATE_NAMES[state] for action, state in RESULT.items()
}

ACTIONS: Table = {
    "login": {"zh": "登录", "en": "Logged in"},
    "logout": {"zh": "退出登录", "en": "Logged out"},
    "login.failed": {"zh": "登录失败", "en": "Failed login"},
    "login.throttled": {"zh": "登录被限制（失败次数过多）", "en": "Login throttled (too many failures)"},
    "session.evicted": {"zh": "旧会话被结束（会话数已满）", "en": "Oldest session ended (too many)"},
    "access.forbidden": {"zh": "拒绝访问（无权限）", "en": "Refused (not allowed)"},
    "access.not_found": {"zh": "拒绝访问（未找到或无权查看）", "en": "Refused (not found or not yours)"},
    "review.confirm": {"zh": "复核：确认违规", "en": "Review: confirmed"},
    "review.dismiss": {"zh": "复核：误报驳回", "en": "Review: dismissed"},
    "review.appeal": {"zh": "机构申诉", "en": "Appealed by the MCN"},
    "review.rectify": {"zh": "机构报告已整改", "en": "Rectified by the MCN"},
    "review.uphold": {"zh": "申诉复核：维持违规", "en": "Appeal decided: upheld"},
    "review.overturn": {"zh": "申诉复核：撤销违规", "en": "Appeal decided: overturned"},
    "evidence.export": {"zh": "导出证据包", "en": "Evidence exported"},
    "evidence.verify": {"zh": "校验证据包", "en": "Bundle verified"},
    "card.approve": {"zh": "审核通过卖点卡", "en": "Card approved"},
    "user.add": {"zh": "新建账号", "en": "Account added"},
    "user.disable": {"zh": "停用账号", "en": "Account disabled"},
    "user.enable": {"zh": "启用账号", "en": "Account enabled"},
    "user.role": {"zh": "修改角色", "en": "Role changed"},
    "user.password_reset": {"zh": "重置密码", "en": "Password reset"},
    "user.password_change": {"zh": "修改本人密码", "en": "Own password changed"},
    **QUEUE_ACTIONS,
}

DETAILS: Table = {  # the keys of an audit entry's details
    "client": {"zh": "客户端地址", "en": "Client address"},
    "method": {"zh": "请求方法", "en": "Method"},
    "status": {"zh": "状态码", "en": "Status"},
    "bytes": {"zh": "字节数", "en": "Bytes"},
    "sha256": {"zh": "SHA-256 摘要", "en": "SHA-256"},
    "reason": {"zh": "理由", "en": "Reason"},
    "override_reason": {"zh": "豁免理由", "en": "Override reason"},
    "findings": {"zh": "审核发现", "en": "Findings"},
    "high": {"zh": "高风险发现", "en": "High findings"},
    "via": {"zh": "途径", "en": "Via"},
    "role": {"zh": "角色", "en": "Role"},
    "suppressed": {"zh": "此前省略的同类条目", "en": "Similar entries left out before"},
    "name": {"zh": "文件名", "en": "File name"},
    "state": {"zh": "复核状态", "en": "Review state"},
    "before": {"zh": "此前状态", "en": "State before"},
    **QUEUE_DETAILS,
}

VIA: Table = {"console": {"zh": "控制台", "en": "console"}, "cli": {"zh": "命令行", "en": "command line"}}

FIELDS: Table = {  # the fields of a listing card and a ledger row as stored (records.py)
    "title": {"zh": "商品标题", "en": "Title"},
    "product_name": {"zh": "商品名称", "en": "Product name"},
    "brand": {"zh": "品牌", "en": "Brand"},
    "category": {"zh": "品类", "en": "Category"},
    "price": {"zh": "价格（元）", "en": "Price (CNY)"},
    "product_id": {"zh": "商品编号", "en": "Product"},
    "listing_id": {"zh": "商品链接", "en": "Listing"},
    "selling_points": {"zh": "卖点", "en": "Selling points"},
    "qualifications": {"zh": "资质", "en": "Qualifications"},
    "supplier": {"zh": "供应商", "en": "Supplier"},
    "status": {"zh": "选品审核", "en": "Selection review"},
    "reviewed_at": {"zh": "审核日期", "en": "Reviewed on"},
    "reviewer": {"zh": "审核人", "en": "Reviewer"},
    "approved_claims": {"zh": "核准的宣称", "en": "Approved claims"},
    "test_report": {"zh": "检测报告", "en": "Test report"},
    "test_report_date": {"zh": "检测报告日期", "en": "Test report date"},
    "event": {"zh": "事件", "en": "Event"},
    "ts": {"zh": "时间", "en": "Time"},
    "type": {"zh": "类型", "en": "Type"},
    "number": {"zh": "编号", "en": "Number"},
    "valid_to": {"zh": "有效期至", "en": "Valid to"},
    "mcn_id": {"zh": "机构", "en": "MCN"},
}
CARD_ORDER = (
    "title", "product_name", "brand", "category", "price", "product_id", "listing_id", "supplier",
    "status", "reviewed_at", "reviewer", "qualifications", "approved_claims", "selling_points",
    "test_report", "test_report_date",
)  # fmt: skip
HIDDEN_FIELDS = frozenset(
    {"at_segment", "stream_id", "anchor_id", "mcn_id", "ts", "event", "extra", "row_hash"}
)  # bookkeeping, or shown above the card already (the time, the event, who)

LISTING_EVENTS: Table = {
    "on_shelf": {"zh": "上架", "en": "On shelf"},
    "explain": {"zh": "讲解中", "en": "Being presented"},
    "off_shelf": {"zh": "下架", "en": "Off shelf"},
}

LEDGER_STATUSES: Table = {
    "approved": {"zh": "已通过", "en": "Approved"},
    "pending": {"zh": "待审核", "en": "Pending"},
    "rejected": {"zh": "未通过", "en": "Rejected"},
}

PRODUCT_CATEGORIES: Table = {  # lexicons/qualifications.yaml, categories
    "cosmetics": {"zh": "普通化妆品", "en": "Cosmetics"},
    "cosmetics_special": {"zh": "特殊化妆品", "en": "Special-use cosmetics"},
    "food": {"zh": "食品", "en": "Food"},
    "health_food": {"zh": "保健食品", "en": "Health food"},
    "infant_formula": {"zh": "婴幼儿配方乳粉", "en": "Infant formula"},
    "medical_device": {"zh": "医疗器械", "en": "Medical device"},
    "electronics_ccc": {"zh": "电子电器（3C）", "en": "Electronics (CCC)"},
    "toys": {"zh": "玩具", "en": "Toys"},
    "apparel": {"zh": "服装", "en": "Apparel"},
    "home": {"zh": "家居用品", "en": "Home goods"},
    "jewelry": {"zh": "珠宝首饰", "en": "Jewellery"},
    "other": {"zh": "其他", "en": "Other"},
}

QUALIFICATION_TYPES: Table = {  # lexicons/qualifications.yaml, qualification_types
    "cosmetics_filing": {"zh": "普通化妆品备案", "en": "Cosmetics filing"},
    "cosmetics_special_registration": {"zh": "特殊化妆品注册证", "en": "Special cosmetics registration"},
    "food_production_license": {"zh": "食品生产许可证", "en": "Food production licence"},
    "health_food_registration": {"zh": "保健食品注册证书", "en": "Health food registration"},
    "health_food_filing": {"zh": "保健食品备案", "en": "Health food filing"},
    "infant_formula_registration": {"zh": "婴幼儿配方乳粉配方注册", "en": "Infant formula registration"},
    "medical_device_registration": {"zh": "医疗器械注册证", "en": "Medical device registration"},
    "medical_device_filing": {"zh": "第一类医疗器械备案", "en": "Class I medical device filing"},
    "ccc": {"zh": "强制性产品认证（3C）", "en": "Compulsory certification (CCC)"},
}

VALUE_TABLES: dict[str, Table] = {
    "category": PRODUCT_CATEGORIES,
    "status": LEDGER_STATUSES,
    "event": LISTING_EVENTS,
    "type": QUALIFICATION_TYPES,
    "role": ROLES,
    "via": VIA,
    "state": STATES,
    "before": STATES,
}


def _pick(table: Mapping[str, Mapping[Language, str]], code: object, language: Language) -> str:
    text = str(code)
    return table.get(text, {}).get(language, text)


def role_label(role: str, language: Language = "zh") -> str:
    return _pick(ROLES, role, language)


def kind_label(kind: str, language: Language = "zh") -> str:
    return _pick(KINDS, kind, language)


NOT_REVIEWED: dict[Language, str] = {"zh": "待复核", "en": "Not reviewed"}


def decision_label(decision: str | None, language: Language = "zh") -> str:
    if not decision:
        return NOT_REVIEWED[language]
    return _pick(DECISIONS, decision, language)


def state_label(state: str, language: Language = "zh") -> str:
    """A lifecycle state (``pending``, ``confirmed``, ... ``overturned``) by its name."""
    return _pick(STATES, state, language)


def action_label(action: str, language: Language = "zh") -> str:
    return _pick(ACTIONS, action, language)


def field_label(key: str, language: Language = "zh") -> str:
    return _pick(FIELDS, key, language)


def value_label(key: str, value: object, language: Language = "zh") -> str:
    """A field's value in words: a code of a known field by its name, others as they are."""
    table = VALUE_TABLES.get(key)
    return _pick(table, value, language) if table is not None else str(value)


# ---------------------------------------------------------------------------------------------
# Times


ZONE_NAMES: Table = {
    "Asia/Shanghai": {"zh": "北京时间", "en": "Beijing time, UTC+8"},
    "Asia/Hong_Kong": {"zh": "香港时间", "en": "Hong Kong time, UTC+8"},
    "UTC": {"zh": "协调世界时（UTC）", "en": "UTC"},
}


def zone_name(timezone: str, language: Language = "zh") -> str:
    """The console's time zone as people call it (its IANA name when the table does not know it)."""
    return _pick(ZONE_NAMES, timezone, language)


def local_datetime(value: datetime | str | None, timezone: str) -> str:
    """A time in the console's time zone, to the second, as people write it (2026-11-20 20:00:10);
    "" for none. A stored ISO text (a card's snapshot) is read first; other text is left as is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:  # the warehouse's times are UTC
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _value_text(key: str, value: Any, language: Language, timezone: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_INSTANT.match(value)):
        return local_datetime(value, timezone)
    if isinstance(value, date):
        return value.isoformat()
    if key == "price" and isinstance(value, int | float):
        return f"{value:.2f}"
    return value_label(key, value, language)


# ---------------------------------------------------------------------------------------------
# Listing cards and ledger rows


@dataclass(frozen=True, slots=True)
class CardField:
    """One labelled line of a listing card or a ledger row: the label, and one or more values
    (a list field gives one line each; a qualification, its type, number and validity)."""

    key: str
    label: str
    values: tuple[str, ...]


def _qualification(q: Mapping[str, Any], language: Language, timezone: str) -> str:
    kind = value_label("type", q.get("type", ""), language)
    number = str(q.get("number") or "—")
    valid_to = q.get("valid_to")
    if valid_to:
        until = _value_text("valid_to", valid_to, language, timezone)
        validity = f"有效期至 {until}" if language == "zh" else f"valid to {until}"
    else:
        validity = "未注明有效期" if language == "zh" else "no expiry given"
    extra = [
        f"{field_label(k, language)}：{_value_text(k, v, language, timezone)}"
        if language == "zh"
        else f"{field_label(k, language)}: {_value_text(k, v, language, timezone)}"
        for k, v in sorted(q.items())
        if k not in ("type", "number", "valid_to", "extra") and v not in (None, "", {}, [])
    ]
    sep = "，" if language == "zh" else ", "
    return f"{kind} {number}{sep}{validity}" + "".join(sep + e for e in extra)


def card_fields(raw: Mapping[str, Any] | None, language: Language, timezone: str) -> list[CardField]:
    """A listing's or a ledger row's snapshot as labelled lines, known fields first in a fixed
    order, the pipeline's bookkeeping left out; times in ``timezone``, codes by their names."""
    if not raw:
        return []
    flat: dict[str, Any] = dict(raw)
    extra = flat.pop("extra", None)
    if isinstance(extra, Mapping):  # an MCN's own columns: shown under the names it gave them
        for k, v in extra.items():
            flat.setdefault(str(k), v)
    keys = [k for k in CARD_ORDER if k in flat] + sorted(k for k in flat if k not in CARD_ORDER)
    fields: list[CardField] = []
    for key in keys:
        if key in HIDDEN_FIELDS:
            continue
        value = flat[key]
        if key == "qualifications" and isinstance(value, list | tuple):
            values = tuple(_qualification(q, language, timezone) for q in value if isinstance(q, Mapping))
        elif isinstance(value, list | tuple):
            values = tuple(_value_text(key, v, language, timezone) for v in value)
        elif isinstance(value, Mapping):
            values = tuple(
                f"{field_label(str(k), language)}: {_value_text(str(k), v, language, timezone)}"
                for k, v in sorted(value.items())
            )
        else:
            values = (_value_text(key, value, language, timezone),)
        fields.append(CardField(key, field_label(key, language), values or ("—",)))
    return fields


# ---------------------------------------------------------------------------------------------
# Audit entries


def _parsed(details: object) -> dict[str, Any]:
    if isinstance(details, Mapping):
        return dict(details)
    try:
        found = json.loads(str(details or "") or "{}")
    except ValueError:
        return {"": str(details)}
    return found if isinstance(found, dict) else {"": str(details)}


def audit_details(details: object, language: Language) -> list[tuple[str, str]]:
    """An audit entry's details (stored as JSON) as (label, text) pairs."""
    pairs: list[tuple[str, str]] = []
    for key, value in sorted(_parsed(details).items()):
        if key == "":
            pairs.append(("", str(value)))
            continue
        if isinstance(value, str):
            text = value_label(key, value, language)
        elif isinstance(value, bool | int | float) or value is None:
            text = str(value)
        else:
            text = json.dumps(value, ensure_ascii=False)
        pairs.append((_pick(DETAILS, key, language), text))
    return pairs


_TARGET_PATTERNS: list[tuple[re.Pattern[str], dict[Language, str]]] = [
    (re.compile(r"^anchor (?P<a>\S+) in (?P<p>\S+)$"), {"zh": "主播 {a}，{p}", "en": "anchor {a}, {p}"}),
    (re.compile(r"^violation (?P<v>\S+)$"), {"zh": "违规 {v}", "en": "violation {v}"}),
    (
        re.compile(r"^card:(?P<m>[^/]+)/(?P<p>.+)/v(?P<n>\d+)$"),
        {"zh": "卖点卡 {m}/{p} 第 {n} 版", "en": "card {m}/{p} v{n}"},
    ),
]


def audit_target(target: str, language: Language) -> str:
    """An audit entry's target in words (an evidence subject, a card), else as stored."""
    for pattern, texts in _TARGET_PATTERNS:
        found = pattern.match(target)
        if found:
            return texts[language].format(**found.groupdict())
    return target


# ---------------------------------------------------------------------------------------------
# Messages of refusals (errors, account refusals, card findings): the known ones in words


_MESSAGES_TEXT: list[tuple[str, str, str]] = [  # (pattern, Chinese, English)
    (
        r"^period '(?P<p>.*)' is not a month written YYYY-MM$",
        "周期“{p}”不是 YYYY-MM 格式的月份",
        "period '{p}' is not a month written YYYY-MM",
    ),
    (
        r"^period '(?P<p>.*)' is outside the years (?P<a>\d+)-(?P<b>\d+)$",
        "周期“{p}”不在 {a}–{b} 年之间",
        "period '{p}' is outside the years {a}-{b}",
    ),
    (r"^invalid parameters$", "参数无效", "invalid parameters"),
    (
        r"^request body larger than (?P<n>\d+) bytes \((?P<name>\w+)\)$",
        "提交的内容超过 {n} 字节的上限（设置项 {name}）",
        "request body larger than {n} bytes ({name})",
    ),
    (r"^(?P<f>\S+): listed but missing$", "{f}：清单中列出但缺失", "{f}: listed but missing"),
    (
        r"^(?P<f>\S+): changed \(SHA-256 differs from the manifest\)$",
        "{f}：已被修改（SHA-256 与清单不符）",
        "{f}: changed (SHA-256 differs from the manifest)",
    ),
    (
        r"^(?P<f>\S+): not in the manifest$",
        "{f}：不在清单中（被添加）",
        "{f}: not in the manifest",
    ),
    (r"^not a readable bundle", "不是可读取的证据包（zip 文件损坏或格式不对）", "not a readable bundle"),
    (r"^(?P<f>\S+) is missing$", "缺少 {f}", "{f} is missing"),
    (
        r"^the zip holds (?P<n>\d+) files, more than a bundle can \((?P<m>\d+)\)$",
        "该 zip 含 {n} 个文件，超过证据包的上限（{m}）",
        "the zip holds {n} files, more than a bundle can ({m})",
    ),
    (
        r"^the zip holds several files named",
        "该 zip 中有重名的文件",
        "the zip holds several files of one name",
    ),
    (
        r"^the files add up to (?P<n>\d+) bytes, more than the (?P<m>\d+) this verifier reads$",
        "文件合计 {n} 字节，超过校验上限 {m} 字节",
        "the files add up to {n} bytes, more than the {m} this verifier reads",
    ),
    (
        r"^(?P<f>[\w.]+\.(?:json|pem|sig)): (?P<why>.*)$",
        "{f}：格式错误或无法读取",
        "{f}: {why}",
    ),
    (
        r"^bad signature",
        "签名无效：manifest.sig 不是 public_key.pem 对 manifest.json 的签名；未读取任何文件",
        "bad signature: manifest.sig is not public_key.pem's signature of manifest.json; no file was read",
    ),
    (
        r"^missing or wrong CSRF token$",
        "表单令牌缺失或错误，请刷新页面后重试",
        "missing or wrong CSRF token; reload the page and try again",
    ),
    (r"^a reason is required$", "请填写理由", "a reason is required"),
    (r"^Method Not Allowed$", "不支持该请求方法", "method not allowed"),
    (r"^this stream has no archived audio$", "该直播没有存档录音", "this stream has no archived audio"),
    (r"^archived audio .* is not there$", "存档录音文件不存在", "the archived audio is not there"),
    (r"^cannot decode archived audio", "存档录音无法解码", "the archived audio cannot be decoded"),
    (
        r"^no violation (?P<v>\S+) that you may see$",
        "没有您可查看的违规 {v}",
        "no violation {v} that you may see",
    ),
    (
        r"^name a violation, or an anchor and a period$",
        "请指定一条违规，或一位主播和一个周期",
        "name a violation, or an anchor and a period",
    ),
    (
        r"^no violations of anchor (?P<a>\S+) in (?P<p>\S+) that you may see$",
        "主播 {a} 在 {p} 没有您可查看的违规",
        "no violations of anchor {a} in {p} that you may see",
    ),
    (
        r"^user names are 2-64 letters, digits or \. _ @ -$",
        "用户名为 2–64 个字母、数字或 . _ @ -",
        "user names are 2-64 letters, digits or . _ @ -",
    ),
    (r"^user '(?P<u>.*)' exists already$", "用户“{u}”已存在", "user '{u}' exists already"),
    (
        r"^role must be one of .*$",
        "角色须为认证机构、机构合规官或审计员之一",
        "the role must be certifier, MCN compliance officer or auditor",
    ),
    (r"^an mcn_officer needs --mcn$", "机构合规官须指定所属机构", "an MCN compliance officer needs an MCN"),
    (
        r"^unknown MCN '(?P<m>.*)': no ledger or stream names it",
        "未知机构“{m}”：没有任何台账或直播属于该机构（请先导入该机构的选品台账）",
        "unknown MCN '{m}': no ledger or stream names it (import the MCN's ledger first)",
    ),
    (r"^the current password is wrong$", "当前密码错误", "the current password is wrong"),
    (r"^the new password is the current one$", "新密码与当前密码相同", "the new password is the current one"),
    (r"^no user '(?P<u>.*)'$", "没有用户“{u}”", "no user '{u}'"),
    (
        r"^you cannot disable your own account",
        "不能停用自己的账号（请另一位认证机构账号操作）",
        "you cannot disable your own account (ask another certifier)",
    ),
    (
        r"^you cannot change your own role",
        "不能修改自己的角色（请另一位认证机构账号操作）",
        "you cannot change your own role (ask another certifier)",
    ),
    (r"^a password cannot be only spaces$", "密码不能全是空格", "a password cannot be only spaces"),
    (
        r"^passwords need at least (?P<n>\d+) characters$",
        "密码至少需要 {n} 个字符",
        "passwords need at least {n} characters",
    ),
    (
        r"^passwords have at most (?P<n>\d+) characters$",
        "密码最多 {n} 个字符",
        "passwords have at most {n} characters",
    ),
    (
        r"^a password cannot contain the user name$",
        "密码不能包含用户名",
        "a password cannot contain the user name",
    ),
    (
        r"^a password cannot be one piece repeated or a run",
        "密码不能是重复的片段或连续的字符（abcd…、1234…）",
        "a password cannot be one piece repeated or a run of characters (abcd..., 1234...)",
    ),
    (
        r"^attachments are at most (?P<n>\d+) bytes \(console_max_attachment_bytes\)$",
        "附件最大 {n} 字节（console_max_attachment_bytes）",
        "attachments are at most {n} bytes (console_max_attachment_bytes)",
    ),
    (
        r"^attachments must be (?P<kinds>[A-Z, ]+) files",
        "附件只能是 {kinds} 文件（按文件内容判断，而非文件名）",
        "attachments must be {kinds} files (told by their content, not their name)",
    ),
    (
        r"^the file's name does not end as a (?P<t>\S+) file's does$",
        "文件名与文件内容的类型（{t}）不符",
        "the file's name does not end as a {t} file's does",
    ),
    (
        r"^this password is on a list of common or breached passwords$",
        "该密码在常见或已泄露密码列表中",
        "this password is on a list of common or breached passwords",
    ),
]
_MESSAGES: list[tuple[re.Pattern[str], dict[Language, str]]] = [
    (re.compile(pattern), {"zh": zh, "en": en}) for pattern, zh, en in [*_MESSAGES_TEXT, *QUEUE_MESSAGES]
]


def message_text(message: str, language: Language) -> str:
    """A refusal's message in ``language``: the known messages in words; an unknown one as it is in
    English; on a Chinese page an unknown English one is left out ("": no English text on Chinese
    pages, the page's own title says what happened)."""
    for pattern, texts in _MESSAGES:
        found = pattern.match(message)
        if found:
            return texts[language].format(**found.groupdict())
    if language == "zh" and _ascii_only(message):
        return ""
    return message


def _ascii_only(text: str) -> bool:
    return all(ord(c) < 128 for c in text)


# Card findings: the reviewer's reason (pipeline/checks) is written in English; the known shapes
# are said again in Chinese from their parts.
_NEEDS = re.compile(
    r"^'(?P<term>.+?)' needs (?P<needs>\S+) valid at (?P<at>\S+); "
    r"holds (?P<holds>.+?)(?P<rest> \(.*\)|: .*)?$"
)
_MEDICAL = re.compile(
    r"^medical claim '(?P<term>.+?)' for a product that is no medicine \(category (?P<cat>.+)\)$"
)
_CLAIM = re.compile(r"^(?P<cat>[a-z_]+) claim '(?P<term>.+)'$")
_CATEGORY = re.compile(r"\(category (?P<cat>\S+)\)$")


def _held(text: str, language: Language) -> str:
    if text.strip() in ("nothing", "none", ""):
        return "无" if language == "zh" else "nothing"
    parts = []
    for piece in text.split(", "):
        code, _, number = piece.partition(" ")
        parts.append(f"{value_label('type', code, language)} {number}".strip())
    return "、".join(parts) if language == "zh" else ", ".join(parts)


def finding_reason(reason: str, language: Language) -> str:
    """A card finding's reason in ``language`` (the known shapes; others as written)."""
    if language == "en":
        claim = _CLAIM.match(reason)
        if claim:
            return f"{label(claim['cat'], 'en')}: '{claim['term']}'"
        return _codes_named(reason, "en")
    found = _NEEDS.match(reason)
    if found:
        needs = "或".join(value_label("type", c, "zh") for c in found["needs"].split("/"))
        rest = found["rest"] or ""
        tail = ""
        if (cat := _CATEGORY.search(rest)) is not None:
            tail = f"（品类：{value_label('category', cat['cat'], 'zh')}）"
        elif "no ledger row" in rest:
            tail = "（该商品没有台账记录）"
        elif "食健备" in rest:
            tail = "：食健备备案只涵盖营养素补充剂，不涵盖保健功能"
        held = _held(found["holds"], "zh")
        return f"“{found['term']}”须持有在 {found['at']} 有效的{needs}；现有：{held}{tail}"
    found = _CLAIM.match(reason)
    if found:
        return f"{label(found['cat'], 'zh')}：“{found['term']}”"
    found = _MEDICAL.match(reason)
    if found:
        what = (
            "不在台账上"
            if found["cat"] == "not on the ledger"
            else value_label("category", found["cat"], "zh")
        )
        return f"对非药品、非医疗器械的商品作医疗宣称“{found['term']}”（品类：{what}）"
    return reason


def _codes_named(text: str, language: Language) -> str:
    """Qualification and category codes inside an English text by their names."""

    def name(found: re.Match[str]) -> str:
        code = found.group(0)
        if code in QUALIFICATION_TYPES:
            return QUALIFICATION_TYPES[code][language]
        return PRODUCT_CATEGORIES[code][language].lower() if code in PRODUCT_CATEGORIES else code

    return _CODE.sub(name, text)


_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\bcosmetics\b|\bfood\b")


# ---------------------------------------------------------------------------------------------
# Legal bases: the lexicons cite the law in Chinese, in English or in both, parts split by "; "


def legal_basis_text(text: str | None, language: Language) -> str:
    """The parts of a legal basis written in ``language`` when it holds parts in both (a Chinese
    citation and its English translation); the whole text otherwise (:mod:`pipeline.legal_basis`)."""
    return legal_basis.in_language(text, language)


# ---------------------------------------------------------------------------------------------
# Verification of an uploaded bundle: what was checked and what was not, from the result's facts

_TRUSTED_AS: Table = {
    "this installation's key": {"zh": "本系统的签名密钥", "en": "this installation's key"},
    "this installation's retired key": {
        "zh": "本系统已停用的签名密钥",
        "en": "this installation's retired key",
    },
}


def verification_lines(result: Any, language: Language) -> tuple[list[str], list[str]]:
    """What verification checked and what it could not check, in ``language``
    (:meth:`pipeline.reporting.evidence.Verification.checked` and ``not_checked`` say the same)."""
    zh = language == "zh"
    done: list[str] = []
    if result.fingerprint:
        done.append(
            f"manifest.json 由证据包内的密钥签名，密钥编号 {result.fingerprint}"
            if zh
            else f"manifest.json is signed by the key in the bundle, id {result.fingerprint}"
        )
    if result.files_checked:
        done.append(
            f"全部 {result.files} 个文件的 SHA-256 与大小均与清单一致，且没有多出的文件"
            if zh
            else f"all {result.files} files match the manifest's SHA-256 and size, and no file is added"
        )
    if result.trusted:
        source = _pick(_TRUSTED_AS, result.trusted_as, language)
        done.append(f"该密钥受信任（{source}）" if zh else f"that key is a trusted one ({source})")
    missing: list[str] = []
    if result.trusted is None and result.fingerprint:
        missing.append(
            "签名者：没有可比对的受信任密钥，任何人都能用自己的密钥签名；请固定认证机构公布的密钥编号"
            if zh
            else "who signed: no trusted key to compare with, and anyone can sign with a key of their own; "
            "pin the certification body's key id"
        )
    if result.trusted is False:
        missing.append(
            f"签名者：密钥 {result.fingerprint} 不是受信任的密钥"
            if zh
            else f"who signed: key {result.fingerprint} is NOT a trusted key"
        )
    if result.fingerprint and not result.files_checked and not result.problems:
        missing.append(
            "文件：签名密钥不受信任，未读取"
            if zh
            else "the files: not read, as the signing key is not trusted"
        )
    return done, missing


def subject_text(subject: str, language: Language) -> str:
    """A bundle's subject (``anchor X in 2026-11``, ``violation ID``) in words."""
    return audit_target(subject, language)


# ---------------------------------------------------------------------------------------------
# The charts' words: every code the overview's charts show, by name


def chart_labels(language: Language) -> dict[str, dict[str, str]]:
    """What charts.js needs to name its series and categories (the same tables, as JSON)."""
    return {
        "kinds": {k: kind_label(k, language) for k in ("claims", "qualifications", "ledger")},
        "categories": {c: label(c, language) for c in CATEGORY_LABELS},
        "severities": {s: severity_label(s, language) for s in ("high", "medium", "low")},
    }


def labellers(language: Language, timezone: str) -> dict[str, Any]:
    """The functions the templates call, bound to the reader's language and the time zone (and
    the zone's name)."""
    return {
        "role_label": lambda r: role_label(r, language),
        "kind_label": lambda k: kind_label(k, language),
        "decision_label": lambda d: decision_label(d, language),
        "state_label": lambda s: state_label(s, language),
        "action_label": lambda a: action_label(a, language),
        "audit_details": lambda d: audit_details(d, language),
        "audit_target": lambda t: audit_target(str(t), language),
        "card_fields": lambda raw: card_fields(raw, language, timezone),
        "value_label": lambda k, v: value_label(k, v, language),
        "message_text": lambda m: message_text(str(m), language),
        "finding_reason": lambda r: finding_reason(str(r), language),
        "legal_basis_text": lambda t: legal_basis_text(t, language),
        "verification_lines": lambda r: verification_lines(r, language),
        "subject_text": lambda t: subject_text(str(t), language),
        "zone_name": zone_name(timezone, language),
    }
