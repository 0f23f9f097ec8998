"""The console in headless Chromium (Debian chromium + chromedriver, driven by Selenium).

Log in, see the overview with data, open a violation, play its clip, dismiss it with a reason and
see the score change, watch a new violation arrive live, export evidence and verify it. Screenshots
go to test-artifacts/browser/ (gitignored).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from pipeline.console.users import add_user, authenticate, get_user
from pipeline.records import Card, SellingPoint
from pipeline.reporting.evidence import verify_bundle
from pipeline.reporting.signing import key_path, load_or_create_key
from pipeline.warehouse import Store
from pipeline.warehouse.cards import save_cards
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.browser import AUTOPLAY, chrome, require_chromium, screenshot
from tests.console_support import PASSWORD, running_console
from tests.evidence_support import forge

pytestmark = [pytest.mark.integration, pytest.mark.slow]

require_chromium()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chrome(
        tmp_path, window="1400,1100", wait_s=5, flags=[AUTOPLAY], downloads=tmp_path / "downloads"
    ) as driver:
        yield driver


def shot(driver: webdriver.Chrome, name: str) -> None:
    screenshot(driver, name, folder="")


def wait_for(condition: object, driver: webdriver.Chrome, timeout_s: float = 15) -> None:
    """Until ``condition(driver)`` holds; an element replaced by a page load meanwhile is looked up
    again on the next poll rather than failing the test."""
    WebDriverWait(driver, timeout_s, ignored_exceptions=[StaleElementReferenceException]).until(
        condition  # type: ignore[arg-type]
    )


def anchor_score(driver: webdriver.Chrome, url: str, anchor: str) -> float:
    driver.get(f"{url}/?period={scenario.PERIOD}")
    row = driver.find_element(By.CSS_SELECTOR, f'#scores-anchor tr[data-subject="{anchor}"] td.score')
    return float(row.text)


def newest_download(folder: Path, timeout_s: float = 30) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = list(folder.glob("*.zip"))
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no download in {folder}")


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_console_in_a_browser(
    store: Store, store_settings: object, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier", display_name="王审核")
    with running_console(store_settings, store) as url:  # type: ignore[arg-type]
        run_scenario(browser, url, store, tmp_path / "downloads", store_settings)


def run_scenario(driver: webdriver.Chrome, url: str, store: Store, downloads: Path, settings: object) -> None:
    log_in(driver, url)
    before = see_overview(driver, url)
    play_and_dismiss(driver, url)
    after = anchor_score(driver, url, "anchor-xiaomei")
    assert after > before, (before, after)
    driver.find_element(By.CSS_SELECTOR, '#scores-anchor tr[data-subject="anchor-xiaomei"] summary').click()
    shot(driver, "05-overview-after-dismissal")
    watch_live(driver, url, store)
    switch_language(driver, url)
    export_and_verify(driver, url, downloads, settings)


def log_in(driver: webdriver.Chrome, url: str) -> None:
    """The overview redirects to the login page first."""
    driver.get(f"{url}/?period={scenario.PERIOD}")
    assert "/login" in driver.current_url
    shot(driver, "01-login")
    driver.find_element(By.ID, "username").send_keys("cert")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait_for(lambda d: d.find_elements(By.ID, "scores-mcn"), driver)


def see_overview(driver: webdriver.Chrome, url: str) -> float:
    """Scores, grades and drawn charts; returns anchor-xiaomei's score."""
    assert "48.8" in driver.find_element(By.ID, "scores-anchor").text
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-trend-mcn canvas"), driver)
    assert driver.find_elements(By.CSS_SELECTOR, "#chart-by-category canvas")
    shot(driver, "02-overview")
    return anchor_score(driver, url, "anchor-xiaomei")


def play_and_dismiss(driver: webdriver.Chrome, url: str) -> None:
    """Open a violation from the list, play its clip, dismiss it with a reason."""
    driver.get(f"{url}/violations?period={scenario.PERIOD}&anchor=anchor-xiaomei")
    price = next(v for v in scenario.starlight_violations() if v.category == "price")
    driver.find_element(By.CSS_SELECTOR, f'a[href="/violations/{price.event_id}"]').click()
    wait_for(lambda d: d.find_elements(By.ID, "clip"), driver)
    assert "全网最低价" in driver.find_element(By.ID, "transcript").text
    assert price.term in price.text
    assert driver.find_element(By.CSS_SELECTOR, "#quoted mark").text == price.term  # marked in its sentence
    assert "价格法" in driver.find_element(By.ID, "legal-basis").text
    driver.execute_script("document.getElementById('clip').play();")
    wait_for(lambda d: d.execute_script("return document.getElementById('clip').currentTime") > 0.5, driver)
    assert driver.execute_script("return document.getElementById('clip').error") is None
    shot(driver, "03-violation-playing")
    driver.find_element(By.ID, "reason").send_keys("主播在引用竞品宣传，非本产品宣称")
    driver.find_element(By.ID, "dismiss").click()
    wait_for(lambda d: "已驳回" in d.find_element(By.ID, "decision").text, driver)
    shot(driver, "04-dismissed")


def watch_live(driver: webdriver.Chrome, url: str, store: Store) -> None:
    """A violation written now shows up without reloading (server-sent events)."""
    driver.get(f"{url}/live")
    time.sleep(1.0)
    fresh = replace(
        scenario.starlight_violations()[0],
        event_id="live-new-1",
        ts=datetime.now(UTC),
        text="刚刚说的：顶级配方，全网第一",
    )
    store.insert("violations", [violation_row(fresh)])
    wait_for(lambda d: "顶级配方" in d.find_element(By.ID, "violation-rows").text, driver, 20)
    shot(driver, "06-live")


def switch_language(driver: webdriver.Chrome, url: str) -> None:
    driver.get(f"{url}/?period={scenario.PERIOD}&lang=en")
    assert "Overview" in driver.find_element(By.TAG_NAME, "nav").text
    shot(driver, "07-overview-en")
    driver.get(f"{url}/?lang=zh")
    assert "总览" in driver.find_element(By.TAG_NAME, "nav").text


def export_and_verify(driver: webdriver.Chrome, url: str, downloads: Path, settings: object) -> None:
    """Export the anchor's evidence, verify it here and through the console; both are audited."""
    driver.get(f"{url}/evidence")
    # The page proposes the month of the newest violation: the one watch_live wrote just now, in
    # whatever month the test runs. The scenario's anchor and month are chosen as a user would.
    Select(driver.find_element(By.ID, "export-anchor")).select_by_value("anchor-xiaomei")
    driver.execute_script("document.getElementById('export-period').value = arguments[0];", scenario.PERIOD)
    driver.find_element(By.ID, "export-submit").click()
    bundle = newest_download(downloads)
    trusted = load_or_create_key(key_path(settings)).public_key()  # type: ignore[arg-type]
    assert verify_bundle(bundle, trusted).ok
    driver.get(f"{url}/evidence")
    driver.find_element(By.ID, "verify-file").send_keys(str(bundle))
    driver.find_element(By.ID, "verify-submit").click()
    wait_for(lambda d: d.find_elements(By.ID, "verify-result"), driver)
    assert "校验通过" in driver.find_element(By.ID, "verify-result").text
    shot(driver, "08-evidence-verified")
    forged = downloads.parent / "forged.zip"  # edited, re-hashed, re-signed with the forger's key
    forged.write_bytes(
        forge(bundle.read_bytes(), {"report.html": b"<p>edited</p>"}, Ed25519PrivateKey.generate())
    )
    driver.get(f"{url}/evidence")
    driver.find_element(By.ID, "verify-file").send_keys(str(forged))
    driver.find_element(By.ID, "verify-submit").click()
    wait_for(lambda d: d.find_elements(By.ID, "verify-result"), driver)
    verdict = driver.find_element(By.ID, "verify-result").text
    assert "校验通过" not in verdict
    assert "签名密钥不受信任" in verdict
    shot(driver, "08b-evidence-forged")
    driver.get(f"{url}/audit")
    assert "evidence.export" in driver.page_source
    assert "review.dismiss" in driver.page_source
    shot(driver, "09-audit")


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_accounts_page_in_a_browser(store: Store, store_settings: object, browser: webdriver.Chrome) -> None:
    """The certifier adds an officer (an unknown MCN and a weak password refused first), resets the
    password; the officer logs in with it, may not administer, changes it; the certifier changes
    the officer's role and disables the account, all in the running console."""
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier")
    with running_console(store_settings, store) as url:  # type: ignore[arg-type]
        log_in(browser, url)
        temporary = add_and_reset(browser, url)
        change_own_password(browser, url, temporary)
        log_in(browser, url)
        change_role_and_disable(browser, url)
    assert authenticate(store, "li", "another long passphrase") is None  # disabled
    assert get_user(store, "li").role == "auditor"  # type: ignore[union-attr]


def fill_new_account(driver: webdriver.Chrome, mcn: str, password: str) -> None:
    driver.find_element(By.ID, "new-username").send_keys("li")
    Select(driver.find_element(By.ID, "new-role")).select_by_value("mcn_officer")
    driver.find_element(By.ID, "new-mcn").send_keys(mcn)
    driver.find_element(By.ID, "new-password").send_keys(password)
    driver.find_element(By.ID, "add-submit").click()


def refusal(driver: webdriver.Chrome) -> str:
    """The accounts page's refusal text ("" when the page shows none)."""
    return " ".join(e.text for e in driver.find_elements(By.ID, "accounts-error"))


def add_and_reset(driver: webdriver.Chrome, url: str) -> str:
    """Add the officer li and reset the password; returns the temporary one shown."""
    driver.get(f"{url}/accounts")
    # each refusal is a page load: the old page's error is still there until it lands
    fill_new_account(driver, "mcn-nowhere", PASSWORD)
    wait_for(lambda d: "mcn-nowhere" in refusal(d), driver)  # unknown MCN
    fill_new_account(driver, "mcn-starlight", "1234567890")
    wait_for(lambda d: "12" in refusal(d), driver)  # too short
    fill_new_account(driver, "mcn-starlight", PASSWORD)
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-user="li"]'), driver)
    driver.find_element(By.CSS_SELECTOR, 'tr[data-user="li"] button.reset').click()
    temporary = driver.find_element(By.ID, "temporary-password").text
    assert len(temporary) >= 12
    shot(driver, "10-accounts")
    driver.find_element(By.ID, "logout").click()
    return temporary


def change_own_password(driver: webdriver.Chrome, url: str, temporary: str) -> None:
    wait_for(lambda d: d.find_elements(By.ID, "login-form"), driver)
    driver.find_element(By.ID, "username").send_keys("li")
    driver.find_element(By.ID, "password").send_keys(temporary)
    driver.find_element(By.ID, "login-submit").click()
    wait_for(lambda d: d.find_elements(By.ID, "scores-mcn"), driver)
    assert not driver.find_elements(By.ID, "nav-accounts")
    driver.get(f"{url}/accounts")
    assert "无权执行此操作" in driver.page_source  # officers do not administer accounts
    driver.get(f"{url}/account")
    driver.find_element(By.ID, "current-password").send_keys(temporary)
    driver.find_element(By.ID, "new-password").send_keys("another long passphrase")
    driver.find_element(By.ID, "change-submit").click()
    wait_for(lambda d: d.find_elements(By.ID, "password-changed"), driver)
    driver.find_element(By.ID, "logout").click()


def change_role_and_disable(driver: webdriver.Chrome, url: str) -> None:
    driver.get(f"{url}/accounts")
    row = 'tr[data-user="li"]'
    Select(driver.find_element(By.CSS_SELECTOR, f"{row} select.role")).select_by_value("auditor")
    driver.find_element(By.CSS_SELECTOR, f"{row} button.set-role").click()
    wait_for(lambda d: "审计员" in d.find_element(By.CSS_SELECTOR, f"{row} td.role").text, driver)  # auditor
    driver.find_element(By.CSS_SELECTOR, f"{row} button.disable").click()
    wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, f"{row}.disabled"), driver)
    shot(driver, "11-accounts-disabled")


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_cards_page_in_a_browser(store: Store, store_settings: object, browser: webdriver.Chrome) -> None:
    """An MCN officer lists the cards, opens one with a high finding, is refused approval without an
    override reason and approves with one (screenshots 12-14, copied to docs/images/console/)."""
    scenario.seed(store)
    add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-starlight", display_name="李合规")
    points = ("深层保湿，质地轻薄", "用了就能美白淡斑", "全网最低价，买二送一")
    cards = [
        Card(
            "mcn-starlight",
            "P-1001",
            tuple(SellingPoint(i + 2, p) for i, p in enumerate(points)),
            source="水润坊卖点卡.xlsx",
        ),
        Card("mcn-starlight", "P-1004", (SellingPoint(2, "新疆长绒棉，亲肤透气"),), source="棉语.docx"),
    ]
    save_cards(store, cards, imported_at=datetime(2026, 11, 18, 2, 30, tzinfo=UTC))
    browser.set_window_size(1280, 900)
    with running_console(store_settings, store) as url:  # type: ignore[arg-type]
        browser.get(f"{url}/cards")
        browser.find_element(By.ID, "username").send_keys("li")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login-submit").click()
        wait_for(lambda d: d.find_elements(By.ID, "cards"), browser)
        assert "草稿" in browser.find_element(By.CSS_SELECTOR, 'tr[data-card="mcn-starlight/P-1001"]').text
        browser.find_element(By.CSS_SELECTOR, 'tr[data-card="mcn-starlight/P-1001"] a.card-link').click()
        wait_for(lambda d: d.find_elements(By.ID, "points"), browser)
        line = browser.find_element(By.CSS_SELECTOR, 'tr[data-line="3"]')
        assert "美白" in line.text
        assert line.find_elements(By.CSS_SELECTOR, '[data-check="efficacy_without_registration"] .rewrite')
        browser.find_element(By.ID, "approve").click()
        wait_for(lambda d: d.find_elements(By.ID, "card-error"), browser)
        assert "豁免理由" in browser.find_element(By.ID, "card-error").text
        shot(browser, "13-card-refused")
        browser.find_element(By.ID, "override-reason").send_keys("已提交国妆特字注册；第3、4行直播中不得使用")
        browser.find_element(By.ID, "approve").click()
        wait_for(lambda d: "已审核" in d.find_element(By.ID, "card-status").text, browser)
        assert browser.find_element(By.ID, "approved-by").text == "li"
        shot(browser, "14-card-approved")
        browser.get(f"{url}/cards")
        row = browser.find_element(By.CSS_SELECTOR, 'tr[data-card="mcn-starlight/P-1001"]')
        assert "已审核" in row.text
        assert "li" in row.text
        shot(browser, "12-cards")
        browser.get(f"{url}/audit")
        assert "card.approve" in browser.page_source
