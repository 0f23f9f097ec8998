"""The review queue's words in Chinese and English: the page's (merged into ``i18n.TEXT``), its
audit actions and details (merged into ``labels``), its refusals' messages and the CSV export's
column names."""

from __future__ import annotations

from pipeline.reporting.categories import Language

Table = dict[str, dict[Language, str]]

QUEUE_TEXT: Table = {
    "queue": {"zh": "复核队列", "en": "Review queue"},
    "date_from": {"zh": "起始日期", "en": "From"},
    "date_to": {"zh": "截止日期", "en": "To"},
    "search": {"zh": "搜索", "en": "Search"},
    "search_hint": {"zh": "违规用语、原话或商品", "en": "term, sentence or product"},
    "any": {"zh": "全部", "en": "Any"},
    "filter": {"zh": "筛选", "en": "Filter"},
    "clear_filters": {"zh": "清除筛选", "en": "Clear"},
    "sort": {"zh": "排序", "en": "Sort"},
    "sort_newest": {"zh": "最新在前", "en": "Newest first"},
    "sort_oldest": {"zh": "最早在前", "en": "Oldest first"},
    "sort_severity": {"zh": "严重程度优先", "en": "Most severe first"},
    "status_pending": {"zh": "待复核", "en": "Pending"},
    "assigned": {"zh": "处理人", "en": "Assigned to"},
    "assigned_me": {"zh": "分配给我", "en": "Assigned to me"},
    "assigned_nobody": {"zh": "未分配", "en": "Unassigned"},
    "select_all": {"zh": "全选本页", "en": "Select the page"},
    "select_row": {"zh": "选择", "en": "Select"},
    "selected": {"zh": "已选", "en": "Selected"},
    "bulk_action": {"zh": "批量操作", "en": "Action on the selected"},
    "bulk_confirm": {"zh": "确认违规", "en": "Confirm"},
    "bulk_dismiss": {"zh": "误报驳回", "en": "Dismiss"},
    "bulk_assign": {"zh": "分配给", "en": "Assign to"},
    "bulk_release": {"zh": "取消分配", "en": "Unassign"},
    "apply": {"zh": "执行", "en": "Apply"},
    "assignee": {"zh": "分配对象", "en": "Assignee"},
    "export_csv": {"zh": "导出筛选结果（表格文件）", "en": "Export the filtered rows (CSV)"},
    "next_page": {"zh": "下一页", "en": "Next page"},
    "first_page": {"zh": "回到第一页", "en": "First page"},
    "bulk_done": {"zh": "已处理 {n} 条", "en": "{n} done"},
    "bulk_refused": {
        "zh": "{n} 条在当前状态下不能进行此操作，未处理",
        "en": "{n} not possible in their state: left as they were",
    },
    "page_rows": {"zh": "本页 {n} 条", "en": "{n} on this page"},
    "me": {"zh": "（我）", "en": " (me)"},
}

QUEUE_ACTIONS: Table = {
    "violation.assign": {"zh": "分配违规", "en": "Violation assigned"},
    "violation.release": {"zh": "取消分配", "en": "Violation unassigned"},
    "violations.export": {"zh": "导出违规清单（表格文件）", "en": "Violations exported (CSV)"},
}

QUEUE_DETAILS: Table = {
    "assignee": {"zh": "分配对象", "en": "Assignee"},
    "filters": {"zh": "筛选条件", "en": "Filters"},
    "bulk": {"zh": "批量条数", "en": "Selected together"},
}

QUEUE_MESSAGES: list[tuple[str, str, str]] = [  # (pattern, Chinese, English): labels.message_text
    (r"^(?P<k>\w+) '(?P<v>.*)' is not a code$", "参数 {k} 的值“{v}”无效", "{k} '{v}' is not a code"),
    (r"^severity must be one of .*$", "严重程度须为高、中或低", "severity must be high, medium or low"),
    (
        r"^status must be one of (?P<s>.*)$",
        "复核状态须为列表中的一项",
        "the review status must be one of {s}",
    ),
    (
        r"^kind must be one of .*$",
        "类型须为违规宣称、资质问题或台账问题",
        "kind must be claim, qualification or ledger",
    ),
    (r"^sort must be one of .*$", "排序方式无效", "sort must be newest, oldest or severity"),
    (r"^assigned must be one of .*$", "处理人筛选无效", "assigned must be me or nobody"),
    (
        r"^the (?P<k>anchor|stream) id is longer than (?P<n>\d+) characters$",
        "编号超过 {n} 个字符",
        "the {k} id is longer than {n} characters",
    ),
    (
        r"^the search text is longer than (?P<n>\d+) characters$",
        "搜索内容超过 {n} 个字符",
        "the search text is longer than {n} characters",
    ),
    (
        r"^the date '(?P<k>from|to)' '(?P<v>.*)' is not a date written YYYY-MM-DD$",
        "日期“{v}”不是 YYYY-MM-DD 格式",
        "the date '{k}' '{v}' is not a date written YYYY-MM-DD",
    ),
    (
        r"^the date '(?P<k>from|to)' is outside the years (?P<a>\d+)-(?P<b>\d+)$",
        "日期不在 {a}–{b} 年之间",
        "the date '{k}' is outside the years {a}-{b}",
    ),
    (
        r"^the date 'from' is after the date 'to'$",
        "起始日期晚于截止日期",
        "the date 'from' is after the date 'to'",
    ),
    (r"^the page position is malformed$", "翻页位置无效，请回到第一页", "the page position is malformed"),
    (
        r"^the page position belongs to another sort order$",
        "翻页位置属于另一种排序，请回到第一页",
        "the page position belongs to another sort order",
    ),
    (r"^select at least one violation$", "请至少选择一条违规", "select at least one violation"),
    (
        r"^at most (?P<n>\d+) violations at once$",
        "一次最多处理 {n} 条",
        "at most {n} violations at once",
    ),
    (r"^choose whom to assign them to$", "请选择分配对象", "choose whom to assign them to"),
    (
        r"^(?P<u>\S+) cannot work violations of (?P<m>\S+)$",
        "{u} 无权处理机构 {m} 的违规",
        "{u} cannot work violations of {m}",
    ),
]

CSV_COLUMNS: list[tuple[str, dict[Language, str]]] = [  # (row key, header)
    ("event_id", {"zh": "违规编号", "en": "Violation"}),
    ("ts", {"zh": "时间", "en": "Time"}),
    ("mcn_id", {"zh": "机构", "en": "MCN"}),
    ("anchor_id", {"zh": "主播", "en": "Anchor"}),
    ("stream_id", {"zh": "直播", "en": "Stream"}),
    ("kind", {"zh": "类型", "en": "Kind"}),
    ("category", {"zh": "类别", "en": "Category"}),
    ("severity", {"zh": "严重程度", "en": "Severity"}),
    ("term", {"zh": "违规用语", "en": "Term"}),
    ("text", {"zh": "原话", "en": "Text"}),
    ("product_id", {"zh": "商品编号", "en": "Product"}),
    ("decision", {"zh": "复核状态", "en": "Review"}),
    ("review_reason", {"zh": "复核理由", "en": "Review reason"}),
    ("assignee", {"zh": "处理人", "en": "Assigned to"}),
]
