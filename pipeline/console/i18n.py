"""The console's words in Chinese (the default) and English; ``?lang=en`` switches, a cookie remembers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from pipeline.reporting.categories import Language

LANG_COOKIE = "cw_lang"

TEXT: dict[str, dict[Language, str]] = {
    "app": {"zh": "ClaimWatch 直播合规监测", "en": "ClaimWatch live-commerce compliance"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "rate_limited": {"zh": "登录失败次数过多，请稍后再试", "en": "Too many failed logins; try again later"},
    "overview": {"zh": "总览", "en": "Overview"},
    "live": {"zh": "实时违规", "en": "Live violations"},
    "violations": {"zh": "违规记录", "en": "Violations"},
    "evidence": {"zh": "证据导出", "en": "Evidence export"},
    "audit": {"zh": "审计日志", "en": "Audit log"},
    "period": {"zh": "周期", "en": "Period"},
    "show": {"zh": "查看", "en": "Show"},
    "mcn": {"zh": "机构", "en": "MCN"},
    "anchor": {"zh": "主播", "en": "Anchor"},
    "stream": {"zh": "直播", "en": "Stream"},
    "score": {"zh": "得分", "en": "Score"},
    "grade": {"zh": "等级", "en": "Grade"},
    "mark": {"zh": "可展示标识", "en": "Mark that may be shown"},
    "hours": {"zh": "监测时长(小时)", "en": "Monitored hours"},
    "count": {"zh": "违规数", "en": "Violations"},
    "provisional": {"zh": "直播进行中，得分未定", "en": "a stream is live: provisional"},
    "explain": {"zh": "得分明细", "en": "How the score is made"},
    "trend": {"zh": "得分趋势", "en": "Score trend"},
    "by_category": {"zh": "违规类别", "en": "Violations by category"},
    "per_day": {"zh": "每日违规", "en": "Violations per day"},
    "time": {"zh": "时间", "en": "Time"},
    "category": {"zh": "类别", "en": "Category"},
    "severity": {"zh": "严重程度", "en": "Severity"},
    "text": {"zh": "原话", "en": "Text"},
    "term": {"zh": "违规用语", "en": "Term"},
    "status": {"zh": "复核状态", "en": "Review"},
    "not_reviewed": {"zh": "待复核", "en": "not reviewed"},
    "confirm": {"zh": "确认违规", "en": "Confirm"},
    "dismiss": {"zh": "误报驳回", "en": "Dismiss"},
    "decision_confirm": {"zh": "确认违规", "en": "Confirmed"},
    "decision_dismiss": {"zh": "误报驳回", "en": "Dismissed"},
    "reason": {"zh": "理由", "en": "Reason"},
    "review": {"zh": "复核", "en": "Review"},
    "reviews": {"zh": "复核记录", "en": "Reviews"},
    "legal_basis": {"zh": "法律依据", "en": "Legal basis"},
    "rewrite": {"zh": "合规改写建议", "en": "Compliant rewrite"},
    "transcript": {"zh": "转写上下文", "en": "Transcript around it"},
    "audio": {"zh": "录音片段", "en": "Audio clip"},
    "no_audio": {"zh": "该直播没有存档录音", "en": "This stream has no archived audio"},
    "listing": {"zh": "商品卡快照（当时）", "en": "Listing as it stood"},
    "ledger": {"zh": "选品台账（当时）", "en": "Ledger row as it stood"},
    "none": {"zh": "无", "en": "none"},
    "export": {"zh": "导出证据包", "en": "Export evidence"},
    "export_one": {"zh": "导出此条证据", "en": "Export this violation"},
    "verify": {"zh": "校验证据包", "en": "Verify a bundle"},
    "valid": {"zh": "校验通过", "en": "Valid"},
    "invalid": {"zh": "校验失败", "en": "NOT valid"},
    "untrusted": {
        "zh": "未通过：签名密钥不受信任（可能是伪造）",
        "en": "NOT verified: not signed by a trusted key (possibly forged)",
    },
    "key_id": {"zh": "签名密钥编号", "en": "signing key id"},
    "checked": {"zh": "已核验：", "en": "Checked:"},
    "not_checked": {"zh": "未核验：", "en": "Not checked:"},
    "live_streams": {"zh": "进行中的直播", "en": "Streams live now"},
    "no_live": {"zh": "当前没有进行中的直播", "en": "No stream is live"},
    "waiting": {"zh": "等待新的违规……", "en": "Waiting for new violations…"},
    "actor": {"zh": "操作人", "en": "Actor"},
    "action": {"zh": "操作", "en": "Action"},
    "target": {"zh": "对象", "en": "Target"},
    "details": {"zh": "详情", "en": "Details"},
    "not_found": {"zh": "未找到，或无权查看", "en": "Not found, or not yours to see"},
    "forbidden": {"zh": "无权执行此操作", "en": "You may not do this"},
    "bad_request": {"zh": "请求无效", "en": "Bad request"},
    "read_only": {"zh": "只读角色不能复核", "en": "Your role cannot review"},
    "role": {"zh": "角色", "en": "Role"},
    "lang_switch": {"zh": "English", "en": "中文"},
    "accounts": {"zh": "账号管理", "en": "Accounts"},
    "all_entries": {"zh": "全部", "en": "All"},
    "refusals": {"zh": "被拒绝的访问", "en": "Refused requests"},
    "logins": {"zh": "登录", "en": "Logins"},
    "account": {"zh": "我的账号", "en": "My account"},
    "add_user": {"zh": "新建账号", "en": "Add an account"},
    "display_name": {"zh": "显示名", "en": "Display name"},
    "state": {"zh": "状态", "en": "State"},
    "active": {"zh": "启用", "en": "active"},
    "disabled": {"zh": "已停用", "en": "disabled"},
    "disable": {"zh": "停用", "en": "Disable"},
    "enable": {"zh": "启用", "en": "Enable"},
    "set_role": {"zh": "改角色", "en": "Set role"},
    "reset_password": {"zh": "重置密码", "en": "Reset password"},
    "temporary_password": {"zh": "新的临时密码，账号", "en": "New temporary password for"},
    "temporary_note": {
        "zh": "只显示这一次：请当面或经可靠渠道交给本人，并请其登录后在“我的账号”中修改。",
        "en": "Shown this once: hand it over in person or by a trusted channel; "
        "ask them to change it under My account.",
    },
    "refused": {"zh": "未执行", "en": "Refused"},
    "change_password": {"zh": "修改密码", "en": "Change password"},
    "current_password": {"zh": "当前密码", "en": "Current password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "password_changed": {
        "zh": "密码已修改，其他会话已退出",
        "en": "Password changed; your other sessions ended",
    },
    "cards": {"zh": "卖点卡", "en": "Selling-point cards"},
    "cards_note": {
        "zh": "每个商品的最新版本卖点卡；生效版本为最高的已审核版本。",
        "en": "Each product's newest card; the card in force is its highest approved version.",
    },
    "times_in": {"zh": "时间均为 {tz} 时区。", "en": "Times are in the {tz} time zone."},
    "rules": {"zh": "评分规则", "en": "Scoring rules"},
    "seconds": {"zh": "秒", "en": "s"},
    "files": {"zh": "个文件", "en": "files"},
    "server_error": {"zh": "服务器内部错误，请稍后再试", "en": "Internal error; try again later"},
    "too_large": {"zh": "上传内容过大", "en": "Upload too large"},
    "back_overview": {"zh": "返回总览", "en": "Back to the overview"},
    "error_status": {"zh": "错误代码", "en": "Error"},
    "chart_top": {
        "zh": "显示本月得分最低的 {n} 个（共 {total} 个）",
        "en": "Showing the {n} lowest scores this month, of {total}",
    },
    "chart_add": {"zh": "添加到图中：", "en": "Add to the chart:"},
    "chart_pick": {"zh": "输入名称", "en": "type a name"},
    "chart_reset": {"zh": "恢复默认", "en": "Reset"},
    "event_kind": {"zh": "类型", "en": "Kind"},
    "snapshot_at": {"zh": "快照时间", "en": "As of"},
    "import": {"zh": "导入批次", "en": "Import"},
    "listing_event": {"zh": "商品卡事件", "en": "Listing event"},
    "product": {"zh": "商品编号", "en": "Product"},
    "product_name": {"zh": "商品名称", "en": "Product name"},
    "version": {"zh": "版本", "en": "Version"},
    "card_status": {"zh": "状态", "en": "Status"},
    "card_draft": {"zh": "草稿", "en": "draft"},
    "card_approved": {"zh": "已审核", "en": "approved"},
    "approved_by": {"zh": "审核人", "en": "Approved by"},
    "approved_at": {"zh": "审核时间", "en": "Approved at"},
    "in_force": {"zh": "生效版本", "en": "In force"},
    "findings": {"zh": "审核发现", "en": "Findings"},
    "no_findings": {"zh": "未发现问题", "en": "no finding"},
    "selling_points": {"zh": "卖点", "en": "Selling points"},
    "selling_point": {"zh": "卖点", "en": "Selling point"},
    "line": {"zh": "行", "en": "Line"},
    "source": {"zh": "来源", "en": "Source"},
    "imported_at": {"zh": "导入时间", "en": "Imported at"},
    "versions": {"zh": "版本历史", "en": "Version history"},
    "override_reason": {"zh": "豁免理由", "en": "Override reason"},
    "approve_card": {"zh": "审核通过", "en": "Approve"},
    "card_needs_override": {
        "zh": "该卖点卡有高风险问题：须填写豁免理由才能审核通过（理由记入审计日志）",
        "en": "This card has high findings: approval needs an override reason (audited)",
    },
    "card_already_approved": {"zh": "该版本已审核", "en": "This version is approved already"},
    "card_officers_approve": {
        "zh": "卖点卡由本机构合规官审核",
        "en": "Cards are approved by an officer of their MCN",
    },
    "password_rules": {
        "zh": "密码至少 {n} 个字符（汉字、空格均可）；不能全是空格，不能是常见或已泄露的密码，"
        "不能是重复或连续的字符，不能包含用户名。",
        "en": "At least {n} characters (any, spaces and Chinese too); not only spaces, not a common or "
        "breached password, not one piece repeated or a run, not containing the user name.",
    },
}


def language_of(request: Request) -> Language:
    """``?lang=`` when given, else the cookie, else Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if asked == "en" else "zh"


def translator(language: Language) -> Callable[[str], str]:
    def t(key: str) -> str:
        return TEXT.get(key, {}).get(language, key)

    return t
