"""The violation page's player in real Chromium (Debian chromium + chromedriver): the clip starts
at the claim, the timeline marks where it was said, a click on a transcript line seeks there, and
a claim heard through a homophone says what was heard and what it was read as, in both languages.
Screenshots go to test-artifacts/browser/player/ (gitignored); docs/images/console/violation-zh.png
and violation-en.png are copies of them (docs/console.md, "The violation page").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pipeline.config import Settings
from pipeline.console.users import add_user
from pipeline.records import Violation
from pipeline.warehouse import Store
from tests import scenario
from tests.browser import AUTOPLAY, chrome, require_chromium, screenshot
from tests.console.test_console_player import HEARD_AT, heard_segments, seed_heard
from tests.console_support import PASSWORD, running_console

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOLERANCE_S = 0.3  # how near the claim (or the line) the player must stand after a seek

require_chromium()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chrome(tmp_path, window="1280,1000", wait_s=2, flags=[AUTOPLAY]) as driver:
        yield driver


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[tuple[str, Violation]]:
    scenario.seed(store)
    found = seed_heard(store)
    add_user(store, "cert", PASSWORD, "certifier")
    with running_console(store_settings, store) as url:
        yield url, found


def current_time(driver: webdriver.Chrome) -> float:
    return float(driver.execute_script("return document.getElementById('clip').currentTime"))


def wait_until(driver: webdriver.Chrome, condition: object, timeout_s: float = 20) -> None:
    WebDriverWait(driver, timeout_s).until(condition)  # type: ignore[arg-type]


def near(driver: webdriver.Chrome, at_s: float) -> bool:
    loaded = driver.execute_script("return document.getElementById('clip').readyState >= 1")
    return bool(loaded) and abs(current_time(driver) - at_s) <= TOLERANCE_S


def open_violation(driver: webdriver.Chrome, url: str, event_id: str, lang: str) -> float:
    """Open the page and wait for the clip's metadata; returns where the claim is in the clip."""
    driver.get(f"{url}/violations/{event_id}?lang={lang}")
    box = driver.find_element(By.ID, "player")
    hit_s = float(str(box.get_attribute("data-hit-s")))
    try:
        wait_until(driver, lambda d: near(d, hit_s))
    except Exception:
        state = driver.execute_script(
            "var a = document.getElementById('clip'); return [a.readyState, a.currentTime, a.duration,"
            " a.error && a.error.message, a.currentSrc];"
        )
        raise AssertionError(f"the player is not at the claim ({hit_s} s): {state}") from None
    return hit_s


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_the_player_starts_at_the_claim_and_the_transcript_seeks(
    console: tuple[str, Violation], browser: webdriver.Chrome
) -> None:
    url, found = console
    browser.get(f"{url}/login")
    browser.find_element(By.ID, "username").send_keys("cert")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait_until(browser, lambda d: d.find_elements(By.TAG_NAME, "nav"))

    hit_s = open_violation(browser, url, found.event_id, "zh")
    assert hit_s > 5  # the clip starts well before the claim: the player did seek to it
    assert browser.execute_script("return document.getElementById('clip').error") is None

    # the marker sits on the timeline where the claim is, by the clip's real duration
    duration = float(browser.execute_script("return document.getElementById('clip').duration"))
    timeline = browser.find_element(By.ID, "clip-timeline").rect
    marker = browser.find_element(By.ID, "claim-marker")
    assert marker.is_displayed()
    left = (marker.rect["x"] - timeline["x"]) / timeline["width"]
    assert left == pytest.approx(hit_s / duration, abs=0.01)
    assert marker.rect["width"] == pytest.approx(
        timeline["width"] * (found.end_offset_s - found.offset_s) / duration, abs=3
    )

    # heard as 每白, read as 美白; the claim's line highlighted, the term inside it
    assert browser.find_element(By.ID, "heard-as").text == "听到 每白 · 识别为 美白"
    hit_rows = browser.find_elements(By.CSS_SELECTOR, "#transcript tr.hit")
    assert [r.find_element(By.TAG_NAME, "mark").text for r in hit_rows] == ["每白"]
    assert heard_segments()[HEARD_AT].text in hit_rows[0].text
    screenshot(browser, "violation-zh", folder="player")

    # a click on another line seeks the player to it; then back to the claim's line
    rows = browser.find_elements(By.CSS_SELECTOR, "#transcript tr[data-at-s]")
    assert len(rows) > 5
    for row in (rows[1], rows[-1], hit_rows[0]):
        at_s = float(str(row.get_attribute("data-at-s")))
        row.click()
        wait_until(browser, lambda d, at=at_s: near(d, at), 10)
        assert "playing" in str(row.get_attribute("class"))
    # the line's place in the clip is its place in the stream less the clip's start
    first = heard_segments()[[s.text for s in heard_segments()].index(rows[0].text.split(maxsplit=1)[1])]
    assert float(str(rows[1].get_attribute("data-at-s"))) == pytest.approx(
        heard_segments()[heard_segments().index(first) + 1].offset_s - first.offset_s, abs=0.01
    )

    open_violation(browser, url, found.event_id, "en")
    assert browser.find_element(By.ID, "heard-as").text == "heard 每白, read as 美白"
    assert "The clip is" in browser.find_element(By.ID, "clip-note").text
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "violation-en", folder="player")
