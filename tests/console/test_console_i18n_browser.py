"""Every page in real Chromium (Debian chromium + chromedriver), in Chinese and in English, on a
desktop window and a 390 px phone: no raw code or English word on a Chinese page, no internal
code on an English one, the navigation kept on error pages, no horizontal overflow at 390 px, and
trend charts that stay readable with fifty anchors (the ten lowest scores, a search box to add
others). Screenshots of every page (the login page too) in both languages on the desktop, and of
a chosen few on the phone, go to test-artifacts/browser/i18n/ (gitignored); they are copied to
docs/images/console/ (docs/console.md, "Languages and small screens").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pipeline.console import labels
from pipeline.console.users import add_user
from pipeline.records import Card, SellingPoint, StreamInfo
from pipeline.reporting.audit import record
from pipeline.reporting.categories import LABELS
from pipeline.warehouse import Store
from pipeline.warehouse.cards import save_cards
from pipeline.warehouse.rows import stream_row, violation_row
from tests import scenario
from tests.browser import chrome, require_chromium, screenshot
from tests.console_support import PASSWORD, running_console

pytestmark = [pytest.mark.integration, pytest.mark.slow]

require_chromium()

MANY = 50  # anchors of one more MCN, each with a stream and a violation a month
EFFICACY = next(v for v in scenario.starlight_violations() if v.category == "efficacy_without_registration")
PAGES = {  # name: path, for the certifier
    "overview": f"/?period={scenario.PERIOD}",
    "live": "/live",
    "violations": f"/violations?period={scenario.PERIOD}",  # the review queue, as the overview links it
    "queue": "/violations?severity=high&status=pending&sort=severity&from=2026-11-01&to=2026-11-30",
    "violation": f"/violations/{EFFICACY.event_id}",
    "cards": "/cards",
    "card": "/cards/mcn-starlight/P-1001",
    "evidence": "/evidence",
    "audit": "/audit",
    "accounts": "/accounts",
    "account": "/account",
    "error-404": "/violations/no-such-violation",
    "error-400": "/?period=2026-13",
}
ERRORS = {"error-404": "未找到，或无权查看", "error-400": "请求无效"}

# Codes a page must never show as they are: on a Chinese page all of them, on an English one the
# machine-looking ones (an English label may say "price" or "ledger" as a word).
RAW_CODES = sorted(
    {*LABELS, *labels.ROLES, *labels.ACTIONS, *labels.LISTING_EVENTS, *labels.PRODUCT_CATEGORIES,
     *labels.QUALIFICATION_TYPES, *labels.FIELDS, *labels.HIDDEN_FIELDS, "claims", "qualifications",
     "None", "not_reviewed", "dismiss", "confirm", "approved", "pending", "rejected", "draft"}
)  # fmt: skip
MACHINE_CODES = [c for c in RAW_CODES if re.search(r"[_.]", c)] + ["None"]
# What a Chinese page may show in Latin letters: data (ids, names of files, numbers, the audit's
# HTTP method), the brand, and the switch to English.
ALLOWED_LATIN = {"ClaimWatch", "English", "cert", "li", "GET", "POST", "SHA", "UTC", "YYYY", "MM", "xlsx"}
_TOKEN_WITH_DATA = re.compile(r"[\w.@:+/-]*[\d_\-./@][\w.@:+/-]*")  # ids, files, times, hashes


def english_words(text: str) -> list[str]:
    """Latin words of a Chinese page's text that are not data."""
    rest = _TOKEN_WITH_DATA.sub(" ", text)
    return [w for w in re.findall(r"[A-Za-z]{2,}", rest) if w not in ALLOWED_LATIN]


def raw_codes(text: str, codes: list[str]) -> list[str]:
    return [c for c in codes if re.search(rf"(?<![\w.-]){re.escape(c)}(?![\w-]|\.\w)", text)]


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chrome(tmp_path, window="1280,900", wait_s=2) as driver:
        yield driver


def seed_many(store: Store) -> None:
    """MANY anchors of mcn-many, one stream and one violation in each of the last three months."""
    template = scenario.starlight_violations()[0]
    streams, violations = [], []
    for i in range(MANY):
        for months_back in range(3):
            start = (
                datetime(2026, 11, 5, 12, tzinfo=UTC) - timedelta(days=30 * months_back) + timedelta(hours=i)
            )
            stream = StreamInfo(
                f"many-{i:02d}-{months_back}",
                f"anchor-m{i:02d}",
                "mcn-many",
                start,
                ended_at=start + timedelta(hours=1),
            )
            streams.append(stream_row(stream))
            for k in range(i % 4 + months_back % 2):
                violations.append(
                    violation_row(
                        replace(
                            template, event_id=f"many-{i:02d}-{months_back}-{k}", stream_id=stream.stream_id,
                            anchor_id=stream.anchor_id, mcn_id="mcn-many", ts=start + timedelta(minutes=k),
                            listing_id=None, product_id=None,
                        )
                    )
                )  # fmt: skip
    store.insert("streams", streams)
    store.insert("violations", violations)


@pytest.fixture
def console(store: Store, store_settings: object) -> Iterator[str]:
    scenario.seed(store)
    seed_many(store)
    points = ("深层保湿，质地轻薄", "用了就能美白淡斑", "全网最低价，买二送一")
    card = Card(
        "mcn-starlight",
        "P-1001",
        tuple(SellingPoint(i + 2, p) for i, p in enumerate(points)),
        source="卖点卡.xlsx",
    )
    save_cards(store, [card], imported_at=datetime(2026, 11, 18, 2, 30, tzinfo=UTC))
    add_user(store, "cert", PASSWORD, "certifier", display_name="王审核")
    add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-starlight", display_name="李合规")
    starlight = "mcn-starlight"
    record(store, "cert", "user.add", "li", starlight, role="mcn_officer")
    approval = {"override_reason": "已提交注册", "findings": 3, "high": 2, "via": "console"}
    record(store, "li", "card.approve", "card:mcn-starlight/P-1001/v1", starlight, **approval)
    record(store, "cert", "review.dismiss", EFFICACY.event_id, starlight, reason="引用竞品宣传，非本产品宣称")
    record(
        store, "cert", "evidence.export", "anchor anchor-xiaomei in 2026-11", starlight, sha256="3f1c" * 16
    )
    record(store, "li", "access.forbidden", "/accounts", method="GET", status=403, bytes=0)
    with running_console(store_settings, store) as url:  # type: ignore[arg-type]
        yield url


def log_in(driver: webdriver.Chrome, url: str, username: str) -> None:
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.TAG_NAME, "nav"))


def check_login_page(driver: webdriver.Chrome, url: str) -> None:
    """The login page, before anyone logs in, in both languages."""
    for lang in ("zh", "en"):
        text = open_page(driver, url, "/login", lang)
        assert driver.find_elements(By.ID, "login-submit"), text
        check_words(driver, "login", text, lang)
        shot(driver, f"login-{lang}")


def open_page(driver: webdriver.Chrome, url: str, path: str, lang: str) -> str:
    driver.get(f"{url}{path}{'&' if '?' in path else '?'}lang={lang}")
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")
    if driver.find_elements(By.ID, "chart-data"):  # the charts draw after the page loads
        WebDriverWait(driver, 15).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-by-category canvas")
        )
    # the score explanations too, folded away in <details>; then folded again for the screenshots
    driver.execute_script("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
    text: str = driver.find_element(By.TAG_NAME, "body").text
    driver.execute_script("document.querySelectorAll('details').forEach(function (d) { d.open = false; })")
    return text


def shot(driver: webdriver.Chrome, name: str) -> None:
    screenshot(driver, name, folder="i18n")


def ui_texts(driver: webdriver.Chrome) -> list[str]:
    """The console's own words on the page (the data it shows is in whatever language it is)."""
    found: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('header.top nav a, header.top button, th, label, "
        "button, summary, h2, .muted:not(td):not(.reason)')).map(function (e) { return e.innerText; });"
    )
    return [t for t in found if t.strip()]


def check_page(driver: webdriver.Chrome, name: str, text: str, lang: str) -> None:
    assert driver.find_elements(By.CSS_SELECTOR, "header.top nav a[href='/live']"), f"{name}: no navigation"
    check_words(driver, name, text, lang)


def check_words(driver: webdriver.Chrome, name: str, text: str, lang: str) -> None:
    """No raw code or English word on a Chinese page, no internal code or Chinese word of the
    console's own on an English one."""
    if lang == "zh":
        assert not english_words(text), (name, english_words(text))
        assert not raw_codes(text, RAW_CODES), (name, raw_codes(text, RAW_CODES))
    else:
        assert not raw_codes(text, MACHINE_CODES), (name, raw_codes(text, MACHINE_CODES))
        chinese = [t for t in ui_texts(driver) if has_cjk(t) and t != "中文"]
        # the product's name and the data in the card page's heading are the MCN's own words
        assert not [t for t in chinese if not re.search(r"玻尿酸|水润坊|卖点卡\.xlsx|王审核|李合规", t)], (
            name,
            chinese,
        )


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_every_page_in_both_languages_and_on_a_phone(console: str, browser: webdriver.Chrome) -> None:
    url = console
    check_login_page(browser, url)
    log_in(browser, url, "cert")
    for lang in ("zh", "en"):
        for name, path in PAGES.items():
            text = open_page(browser, url, path, lang)
            check_page(browser, name, text, lang)
            if lang == "zh" and name in ERRORS:
                assert ERRORS[name] in text
            shot(browser, f"{name}-{lang}")
    check_listing_and_ledger_cards(browser, url)
    check_charts(browser, url)
    on_a_phone(browser, url)


def check_listing_and_ledger_cards(driver: webdriver.Chrome, url: str) -> None:
    open_page(driver, url, PAGES["violation"], "zh")
    listing = driver.find_element(By.ID, "listing-fields").text
    assert "品类 普通化妆品" in listing
    assert "资质 普通化妆品备案 浙G妆网备字2023001147，未注明有效期" in listing
    assert (
        "商品卡事件：讲解中 · 快照时间 2026-11-20 20:00:10"
        in driver.find_element(By.ID, "listing-event").text
    )
    ledger = driver.find_element(By.ID, "ledger-fields").text
    assert "选品审核 已通过" in ledger
    assert "有效期至 2027-06-30" in ledger
    assert "导入时间 2026-09-01 08:00:00" in driver.find_element(By.ID, "ledger-import").text
    open_page(driver, url, PAGES["violation"], "en")
    assert "Category Cosmetics" in driver.find_element(By.ID, "listing-fields").text
    assert "Selection review Approved" in driver.find_element(By.ID, "ledger-fields").text


def chart_option(driver: webdriver.Chrome, element_id: str) -> dict[str, object]:
    option: dict[str, object] = driver.execute_script(
        "var o = echarts.getInstanceByDom(document.getElementById(arguments[0])).getOption();"
        "return {series: o.series.map(function (s) { return s.name || ''; }),"
        " legend: (o.legend[0] || {}).data || [], y: (o.yAxis[0] || {}).data || []};",
        element_id,
    )
    return option


def check_charts(driver: webdriver.Chrome, url: str) -> None:
    """Series and categories by their names, whole; the anchors' trend shows ten and adds others."""
    for lang in ("zh", "en"):
        open_page(driver, url, PAGES["overview"], lang)
        per_day = chart_option(driver, "chart-per-day")
        assert per_day["series"] == (
            ["违规宣称", "资质问题", "台账问题"] if lang == "zh" else ["Claims", "Qualifications", "Ledger"]
        )
        categories = chart_option(driver, "chart-by-category")["y"]
        assert labels.label("efficacy_without_registration", lang) in categories  # type: ignore[arg-type, operator]
        names = {labels.label(c, lang) for c in LABELS}  # type: ignore[arg-type]
        assert set(categories) <= names, categories  # type: ignore[arg-type]
        if lang == "en":
            driver.execute_script("document.querySelector('section.grid').scrollIntoView()")
            shot(driver, "overview-charts-en")
    open_page(driver, url, PAGES["overview"], "zh")
    anchors = chart_option(driver, "chart-trend-anchor")
    assert len(anchors["series"]) == 10  # type: ignore[arg-type]
    assert anchors["legend"] == anchors["series"]
    tools = driver.find_element(By.ID, "chart-trend-anchor-tools")
    assert f"共 {MANY + 2} 个" in tools.text
    assert not driver.find_elements(By.ID, "chart-trend-mcn-tools")  # three MCNs: all shown
    names = driver.execute_script(
        "return Array.from(document.querySelectorAll('#chart-trend-anchor-names option'))"
        ".map(function (o) { return o.value; })"
    )
    hidden = next(n for n in names if n not in anchors["series"])  # type: ignore[operator]
    search = tools.find_element(By.CSS_SELECTOR, "input.chart-search")
    search.send_keys(hidden)
    driver.execute_script("arguments[0].dispatchEvent(new Event('change'))", search)
    WebDriverWait(driver, 5).until(lambda d: hidden in chart_option(d, "chart-trend-anchor")["series"])  # type: ignore[operator]
    assert len(chart_option(driver, "chart-trend-anchor")["series"]) == 11  # type: ignore[arg-type]
    driver.execute_script("document.querySelector('section.grid').scrollIntoView()")
    shot(driver, "overview-charts-zh")
    tools.find_element(By.CSS_SELECTOR, "button.chart-reset").click()
    assert len(chart_option(driver, "chart-trend-anchor")["series"]) == 10  # type: ignore[arg-type]


def on_a_phone(driver: webdriver.Chrome, url: str) -> None:
    """390 px wide: nothing wider than the window on any page (tables scroll in their card)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        for lang in ("zh", "en"):
            for name, path in PAGES.items():
                open_page(driver, url, path, lang)
                width, inner = driver.execute_script(
                    "return [document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert inner == 390, (name, inner)  # not zoomed out to fit something wider
                assert width <= inner, (name, lang, width, inner)
                if name in ("overview", "violations", "violation", "audit", "card", "accounts", "queue") and (
                    lang == "zh" or name in ("overview", "violation", "queue")
                ):
                    shot(driver, f"{name}-{lang}-390")
        open_page(driver, url, PAGES["error-404"], "en")
        shot(driver, "error-404-en-390")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_an_officers_refusal_keeps_the_navigation(console: str, browser: webdriver.Chrome) -> None:
    """A 403 (an officer on /accounts) and a 404 inside the layout, with the officer's own menu."""
    log_in(browser, console, "li")
    for lang, title in (("zh", "无权执行此操作"), ("en", "You may not do this")):
        text = open_page(browser, console, "/accounts", lang)
        assert title in browser.find_element(By.ID, "error").text
        check_page(browser, "error-403", text, lang)
        assert (
            "李合规 · " + labels.role_label("mcn_officer", lang)
            in browser.find_element(By.ID, "nav-account").text
        )  # type: ignore[arg-type]
        assert not browser.find_elements(By.ID, "nav-accounts")
        assert browser.find_elements(By.ID, "logout")
    open_page(browser, console, "/nowhere", "zh")
    assert "未找到，或无权查看" in browser.find_element(By.ID, "error").text
    assert browser.find_elements(By.ID, "nav-account")
