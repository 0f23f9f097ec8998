"""The live wall in real Chromium (Debian chromium + chromedriver): rooms riskiest first, a stalled
room shown stalled, an officer's wall without another MCN's room, and a violation stored while
the page is open on its card within 3 s, marked as a new high-severity hit. Screenshots of the
certifier's wall in both languages go to test-artifacts/browser/wall/ (copied to
docs/images/console/, docs/console.md "The live wall").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pipeline.config import Settings
from pipeline.console.labels import decision_label
from pipeline.console.users import add_user
from pipeline.records import StreamInfo
from pipeline.reporting.categories import Language
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from tests.browser import chrome, require_chromium, screenshot
from tests.console_support import PASSWORD, running_console
from tests.wall_support import PRODUCT, seed_wall
from tests.wall_support import hit as make_hit

pytestmark = [pytest.mark.integration, pytest.mark.slow]

require_chromium()

NEW_HIT = "这款精华三天就能根治湿疹"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chrome(tmp_path, window="1280,900", wait_s=0) as driver:
        yield driver


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[tuple[str, Store, dict[str, StreamInfo]]]:
    rooms = seed_wall(store, datetime.now(UTC).replace(microsecond=0))
    add_user(store, "cert", PASSWORD, "certifier", display_name="王审核")
    add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-starlight", display_name="李合规")
    with running_console(store_settings, store) as url:
        yield url, store, rooms


def log_in(driver: webdriver.Chrome, url: str, username: str) -> None:
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.TAG_NAME, "nav"))


def open_wall(driver: webdriver.Chrome, url: str, lang: str) -> None:
    driver.get(f"{url}/live?lang={lang}")
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def cards(driver: webdriver.Chrome) -> list[str]:
    found: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#wall article.room')).map(function (c) {"
        " return c.dataset.stream; });"
    )
    return found


def card(driver: webdriver.Chrome, stream_id: str) -> dict[str, str]:
    found: dict[str, str] = driver.execute_script(
        "var c = document.querySelector('#wall article.room[data-stream=\"' + arguments[0] + '\"]');"
        "if (!c) { return null; }"
        "function f(n) { return c.querySelector('[data-f=\"' + n + '\"]').innerText; }"
        "return {cls: c.className, state: f('state'), product: f('product'), high: f('count-high'),"
        " hit: f('hit'), audio: f('audio')};",
        stream_id,
    )
    return found


def check_added_row(driver: webdriver.Chrome, lang: Language) -> None:
    """The row the feed adds reads like the rows the page came with; the stalled room says so."""
    if lang == "en":
        assert card(driver, "wall-b")["state"] == "Stalled: no audio"
    WebDriverWait(driver, 3, poll_frequency=0.1).until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.new"))
    added = driver.find_elements(By.CSS_SELECTOR, "tr.new")[0].find_elements(By.TAG_NAME, "td")
    assert added[-1].text == decision_label(None, lang)


def shot(driver: webdriver.Chrome, name: str) -> None:
    screenshot(driver, name, folder="wall")


@pytest.mark.parametrize("store_settings", ["embedded"], indirect=True)
def test_the_wall_shows_a_new_hit_within_3_s_and_a_stalled_room(
    console: tuple[str, Store, dict[str, StreamInfo]], browser: webdriver.Chrome
) -> None:
    url, store, rooms = console
    log_in(browser, url, "li")
    open_wall(browser, url, "zh")
    assert cards(browser) == ["wall-a", "wall-b", "wall-d", "wall-e"]  # mcn-rival's wall-c: never
    a, b = card(browser, "wall-a"), card(browser, "wall-b")
    assert "state-live" in a["cls"]
    assert a["state"] == "直播中"
    assert a["product"] == PRODUCT
    assert a["high"] == "高 2"
    assert "这款精华能治疗痘痘" in a["hit"]
    assert "state-stalled" in b["cls"]
    assert b["state"] == "音频中断"
    assert b["audio"] == "3 分钟前"
    assert card(browser, "wall-e")["state"] == "已结束（长时间无声音）"
    time.sleep(2.5)  # the wall's stream is connected and has sent the wall as it was

    now = datetime.now(UTC).replace(microsecond=0)
    new = make_hit(rooms["wall-b"], now, "high", "wall-b-new", NEW_HIT)
    store.insert("violations", [violation_row(new)])
    stored = time.monotonic()
    WebDriverWait(browser, 3, poll_frequency=0.1).until(lambda d: NEW_HIT in card(d, "wall-b")["hit"])
    shown_s = time.monotonic() - stored
    assert shown_s < 3, shown_s
    b = card(browser, "wall-b")
    assert "alert" in b["cls"]
    assert b["high"] == "高 1"
    assert "state-stalled" in b["cls"]
    assert browser.execute_script("return document.getElementById('wall').dataset.alerts") == "1"
    banner = browser.find_element(By.ID, "wall-alert")
    assert banner.is_displayed()
    assert "新的高风险违规：1 条" in banner.text
    assert browser.title.startswith("(1) ")
    assert cards(browser) == ["wall-a", "wall-b", "wall-d", "wall-e"]  # 2 high before 1 high
    browser.find_element(By.ID, "wall-ack").click()
    assert not banner.is_displayed()
    assert "alert" not in card(browser, "wall-b")["cls"]
    print(f"new hit on the wall {shown_s:.2f} s after it was stored")

    log_in(browser, url, "cert")  # everyone's rooms, for the screenshots: a fresh hit marked
    languages: tuple[Language, ...] = ("zh", "en")
    for lang in languages:
        open_wall(browser, url, lang)
        order = cards(browser)
        assert order[0] == "wall-a", order
        assert order[3:] == ["wall-d", "wall-e"], order  # b, c: the newest high first
        time.sleep(2.5)
        said = make_hit(rooms["wall-c"], datetime.now(UTC).replace(microsecond=0), "high",
                        f"wall-c-new-{lang}", "全网最低价，今天只要九块九")  # fmt: skip
        store.insert("violations", [violation_row(said)])
        WebDriverWait(browser, 3, poll_frequency=0.1).until(lambda d: "alert" in card(d, "wall-c")["cls"])
        # zh: c's one high hit, the newest, puts it after a (two high) and before b (one, older);
        # en: c has two high hits now (the zh one too), the same as a, and the newer: first
        expected = ["wall-a", "wall-c", "wall-b"] if lang == "zh" else ["wall-c", "wall-a", "wall-b"]
        assert cards(browser)[:3] == expected
        check_added_row(browser, lang)
        shot(browser, f"wall-{lang}")
