"""The review queue in headless Chromium (Debian chromium + chromedriver): filter and search, pick
the whole page (50 rows) and dismiss them with one reason; the rows then show as dismissed and the
audit log lists each dismissal. Screenshots go to test-artifacts/browser/queue/ (gitignored); the
zh and en ones are copied to docs/images/console/ (docs/console.md, "The review queue")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from pipeline.console import labels
from pipeline.console.users import add_user
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.browser import chrome, require_chromium, screenshot
from tests.console_support import PASSWORD, running_console

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXTRA = 70  # medium-severity rows that say 顶级配方: more than one page (50)

require_chromium()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chrome(tmp_path, window="1400,1000", wait_s=3) as driver:
        yield driver


def shot(driver: webdriver.Chrome, name: str) -> None:
    screenshot(driver, name, folder="queue")


def seed(store: Store) -> list[str]:
    scenario.seed(store)
    template = scenario.starlight_violations()[0]
    extras = [
        replace(
            template,
            event_id=f"batch-{i:03d}",
            ts=template.ts + timedelta(seconds=30 * i),
            severity="medium",
            category="absolute",
            term="顶级",
            text=f"第{i}遍：顶级配方，效果看得见",
        )
        for i in range(EXTRA)
    ]
    store.insert("violations", [violation_row(v) for v in extras])
    add_user(store, "cert", PASSWORD, "certifier", display_name="王审核")
    return [v.event_id for v in extras]


def rows(driver: webdriver.Chrome) -> list[tuple[str, str]]:
    found: list[list[str]] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#queue-rows tr[data-id]'))"
        ".map(function (r) { return [r.getAttribute('data-id'), r.getAttribute('data-decision')]; });"
    )
    return [(a, b) for a, b in found]


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_filter_search_and_dismiss_a_page(
    store: Store, store_settings: object, browser: webdriver.Chrome
) -> None:
    extras = seed(store)
    with running_console(store_settings, store) as url:  # type: ignore[arg-type]
        driver = browser
        driver.get(f"{url}/login")
        driver.find_element(By.ID, "username").send_keys("cert")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.TAG_NAME, "nav"))
        driver.find_element(By.ID, "nav-queue").click()
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "queue-filters"))
        # filter (medium severity, pending) and search (the sentence's words)
        Select(driver.find_element(By.ID, "f-severity")).select_by_value("medium")
        Select(driver.find_element(By.ID, "f-status")).select_by_value("pending")
        driver.find_element(By.ID, "f-q").send_keys("顶级配方")
        driver.find_element(By.ID, "filter-submit").click()
        WebDriverWait(driver, 15).until(lambda d: "q=" in d.current_url)
        listed = rows(driver)
        newest_first = sorted(extras, reverse=True)
        assert [i for i, _ in listed] == newest_first[:50]
        assert {d for _, d in listed} == {"pending"}
        assert driver.find_elements(By.ID, "next-page")
        shot(driver, "queue-zh")
        # pick the whole page and dismiss it with one reason
        driver.find_element(By.ID, "select-all").click()
        assert driver.find_element(By.ID, "selected-count").text == "已选 50"
        Select(driver.find_element(By.ID, "bulk-action")).select_by_value("dismiss")
        driver.find_element(By.ID, "bulk-reason").send_keys("同一段口播重复识别，批量驳回")
        driver.find_element(By.ID, "bulk-submit").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "bulk-result"))
        assert "已处理 50 条" in driver.find_element(By.ID, "bulk-result").text
        # the filter is kept: the pending ones left are the 20 oldest
        assert [i for i, _ in rows(driver)] == newest_first[50:]
        driver.get(f"{url}/violations?status=dismiss&q=%E9%A1%B6%E7%BA%A7%E9%85%8D%E6%96%B9")
        dismissed = rows(driver)
        assert sorted(i for i, _ in dismissed) == sorted(newest_first[:50])
        assert {d for _, d in dismissed} == {"dismiss"}
        shown = {t.text for t in driver.find_elements(By.CSS_SELECTOR, "#queue-rows td.decision")}
        assert shown == {labels.decision_label("dismiss", "zh")}
        assert len(driver.find_elements(By.CSS_SELECTOR, "#queue-rows tr.dismissed")) == 50
        driver.get(f"{url}/audit?action=review.")
        audit = driver.find_element(By.ID, "audit").text
        assert audit.count(labels.action_label("review.dismiss", "zh")) == 50
        assert "同一段口播重复识别，批量驳回" in audit
        driver.get(f"{url}/violations?severity=medium&q=%E9%A1%B6%E7%BA%A7&lang=en")
        assert "Review queue" in driver.find_element(By.TAG_NAME, "h1").text
        assert labels.decision_label("dismiss", "en") in driver.find_element(By.ID, "queue-rows").text
        shot(driver, "queue-en")
        driver.get(f"{url}/violations?lang=zh")
