"""Names of violation categories for people: Chinese first (the console's default), English too.

Claim categories are TAXONOMY.md's; check categories are DESIGN.md §3.4's.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]

LABELS: dict[str, dict[Language, str]] = {
    "absolute": {"zh": "绝对化用语", "en": "Absolute terms"},
    "price": {"zh": "价格违法宣传", "en": "False price claim"},
    "medical": {"zh": "医疗用语", "en": "Medical claim"},
    "efficacy": {"zh": "特殊功效宣称", "en": "Efficacy claim"},
    "guarantee": {"zh": "功效保证", "en": "Guarantee of effect"},
    "authority": {"zh": "借用权威", "en": "False authority"},
    "superstition": {"zh": "封建迷信", "en": "Superstition"},
    "off_ledger": {"zh": "未入选品台账", "en": "Off-ledger product"},
    "ledger_not_approved": {"zh": "台账未通过审核", "en": "Ledger row not approved"},
    "missing_qualification": {"zh": "缺少资质", "en": "Missing qualification"},
    "expired_qualification": {"zh": "资质已过期", "en": "Expired qualification"},
    "invalid_qualification": {"zh": "资质编号无效", "en": "Invalid qualification number"},
    "efficacy_without_registration": {"zh": "功效宣称无注册证", "en": "Efficacy claim without registration"},
    "off_card": {"zh": "卖点卡外宣称", "en": "Statement off the approved card"},
    "medical_on_non_medicine": {"zh": "非医疗器械的医疗宣称", "en": "Medical claim on a non-medicine"},
}

SEVERITY_LABELS: dict[str, dict[Language, str]] = {
    "high": {"zh": "高", "en": "high"},
    "medium": {"zh": "中", "en": "medium"},
    "low": {"zh": "低", "en": "low"},
}


def label(category: str, language: Language = "zh") -> str:
    """The category's name in ``language`` (the code itself when unknown)."""
    return LABELS.get(category, {}).get(language, category)


OFF_CARD_MARK: dict[Language, str] = {"zh": "（卡外）", "en": " (off card)"}


def violation_label(category: str, off_card: object = False, language: Language = "zh") -> str:
    """The category's name, marked when the claim was said off the product's approved selling-point
    card (``off_card``; the ``off_card`` category says so by itself)."""
    mark = OFF_CARD_MARK[language] if off_card and category != "off_card" else ""
    return label(category, language) + mark


def severity_label(severity: str, language: Language = "zh") -> str:
    return SEVERITY_LABELS.get(severity, {}).get(language, severity)
