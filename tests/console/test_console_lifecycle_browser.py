"""The review lifecycle in headless Chromium: the certifier confirms, the MCN officer appeals with
a note and a PDF attachment, the certifier overturns it, and the anchor's score on the overview
rises; the same submission twice (two tabs) writes one row. Screenshots of the history in zh and
en go to test-artifacts/browser/lifecycle/ (copied to docs/images/console/, docs/console.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from pipeline.console.users import add_user
from pipeline.warehouse import Store
from tests import scenario
from tests.console.test_console_browser import (  # noqa: F401  (browser: the fixture)
    anchor_score,
    browser,
    wait_for,
)
from tests.console_support import PASSWORD, running_console
from tests.paths import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ARTIFACTS = ROOT / "test-artifacts" / "browser" / "lifecycle"
PRICE = next(v for v in scenario.starlight_violations() if v.category == "price")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def log_in_as(driver: webdriver.Chrome, url: str, username: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait_for(lambda d: d.find_elements(By.ID, "logout"), driver)


def state_shown(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.ID, "lifecycle-state").get_attribute("data-state"))


def twice_in_two_tabs(driver: webdriver.Chrome, url: str, fill: object, button: str, after: str) -> None:
    """Open the violation in two tabs, submit the same step in both: the second is a no-op."""
    page = f"{url}/violations/{PRICE.event_id}"
    driver.get(page)
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(page)
    second = driver.current_window_handle
    for handle in (first, second):
        driver.switch_to.window(handle)
        fill(driver)  # type: ignore[operator]
        driver.find_element(By.ID, button).click()
        wait_for(lambda d: state_shown(d) == after, driver)
    driver.close()
    driver.switch_to.window(first)


def decisions(store: Store) -> list[str]:
    rows = store.query(
        "SELECT decision FROM reviews FINAL WHERE violation_id = %(v)s ORDER BY reviewed_at, review_id",
        {"v": PRICE.event_id},
    )
    return [r["decision"] for r in rows]


def history_shot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    section = driver.find_element(By.ID, "history").find_element(By.XPATH, "ancestor::section")
    driver.execute_script("arguments[0].scrollIntoView();", section)
    section.screenshot(str(ARTIFACTS / f"{name}.png"))


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_appeal_and_overturn_in_a_browser(
    store: Store,
    store_settings: object,
    browser: webdriver.Chrome,  # noqa: F811
    tmp_path: Path,
) -> None:
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier", display_name="王审核")
    add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id="mcn-starlight", display_name="李合规")
    letter = tmp_path / "申诉函.pdf"
    letter.write_bytes(PDF)
    with running_console(store_settings, store) as url:  # type: ignore[arg-type]
        driver = browser
        log_in_as(driver, url, "cert")
        before = anchor_score(driver, url, "anchor-xiaomei")
        driver.get(f"{url}/violations/{PRICE.event_id}")
        assert state_shown(driver) == "pending"
        driver.find_element(By.ID, "reason").send_keys("主播宣称全网最低价，无依据")
        driver.find_element(By.ID, "confirm").click()
        wait_for(lambda d: state_shown(d) == "confirmed", driver)
        assert "已确认" in driver.find_element(By.ID, "decision").text
        assert anchor_score(driver, url, "anchor-xiaomei") == before

        log_in_as(driver, url, "officer")

        def appeal(d: webdriver.Chrome) -> None:
            d.find_element(By.ID, "reason").send_keys("价格为当日平台核价，附价格证明")
            d.find_element(By.ID, "attachment").send_keys(str(letter))

        twice_in_two_tabs(driver, url, appeal, "appeal", "appealed")
        assert decisions(store) == ["confirm", "appeal"]
        history = driver.find_element(By.ID, "history")
        assert "申诉中" in history.text
        assert "申诉函.pdf" in history.text
        assert "李合规" not in history.text
        link = history.find_element(By.CSS_SELECTOR, "a.attachment").get_attribute("href")
        assert link
        assert link.endswith(f"/attachments/{hashlib.sha256(PDF).hexdigest()}")
        assert not driver.find_elements(By.ID, "appeal")
        assert anchor_score(driver, url, "anchor-xiaomei") == before  # an appeal decides nothing yet

        log_in_as(driver, url, "cert")

        def overturn(d: webdriver.Chrome) -> None:
            d.find_element(By.ID, "reason").send_keys("价格证明成立，撤销")

        twice_in_two_tabs(driver, url, overturn, "overturn", "overturned")
        assert decisions(store) == ["confirm", "appeal", "overturn"]
        assert "申诉成立，撤销违规" in driver.find_element(By.ID, "decision").text
        history_shot(driver, "lifecycle-history-zh")
        driver.get(f"{url}/violations/{PRICE.event_id}?lang=en")
        assert "Overturned" in driver.find_element(By.ID, "history").text
        assert "Appealed" in driver.find_element(By.ID, "history").text
        history_shot(driver, "lifecycle-history-en")
        after = anchor_score(driver, url, "anchor-xiaomei")
        assert after > before, (before, after)
