"""The overview's cache (issue 16, item 7): kept for ``console_overview_cache_s``, computed once
for concurrent readers, dropped when a review is recorded, over real HTTP on both stores; the
single flight itself with real threads."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from pipeline.config import Settings
from pipeline.console.cache import TtlCache
from pipeline.console.users import add_user
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.console_support import PASSWORD, csrf_of, log_in, running_console

TTL_S = 3.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_for_its_ttl() -> None:
    clock, calls = Clock(), []
    cache: TtlCache[str, int] = TtlCache(20.0, clock)
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert [cache.get("k", compute), cache.get("k", compute)] == [1, 1]
    clock.now = 19.9
    assert cache.get("k", compute) == 1
    clock.now = 20.1
    assert cache.get("k", compute) == 2
    assert cache.get("other", compute) == 3


def test_concurrent_requests_share_one_computation() -> None:
    cache: TtlCache[str, int] = TtlCache(20.0)
    release, calls, results = threading.Event(), [], []

    def slow() -> int:
        calls.append(1)
        release.wait(10)
        return 42

    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(12)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # all twelve are waiting: one computes, eleven wait for it
    release.set()
    for thread in threads:
        thread.join(10)
    assert (len(calls), results) == (1, [42] * 12)


def test_an_error_reaches_every_waiter_and_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(20.0)
    release, errors = threading.Event(), []

    def failing() -> int:
        release.wait(10)
        raise ValueError("store gone")

    def ask() -> None:
        try:
            cache.get("k", failing)
        except ValueError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(10)
    assert errors == ["store gone"] * 4
    assert cache.get("k", lambda: 7) == 7


def test_clear_drops_values_and_does_not_keep_a_computation_started_before_it() -> None:
    cache: TtlCache[str, str] = TtlCache(20.0)
    started, release = threading.Event(), threading.Event()

    def before() -> str:
        started.set()
        release.wait(10)
        return "before the review"

    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(cache.get("k", before)))
    thread.start()
    started.wait(10)
    cache.clear()  # a review is recorded while the old computation runs
    assert cache.get("k", lambda: "after the review") == "after the review"  # not the old flight
    release.set()
    thread.join(10)
    assert results == ["before the review"]
    assert cache.get("k", lambda: "recomputed") == "after the review"  # the old one was not kept


def test_a_zero_ttl_keeps_nothing() -> None:
    cache: TtlCache[str, int] = TtlCache(0.0)
    calls: list[int] = []
    for _ in range(3):
        cache.get("k", lambda: calls.append(1) or 1)
    assert (len(calls), len(cache)) == (3, 0)


# ---------------------------------------------------------------------------------------------
# Over HTTP, on both stores


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[tuple[str, Store]]:
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier")
    add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id=scenario.STARLIGHT.mcn_id)
    with running_console(store_settings.model_copy(update={"console_overview_cache_s": TTL_S}), store) as url:
        yield url, store


def score_of(client: httpx.Client, subject: str) -> tuple[float, int]:
    """The overview's score and violation count of ``subject``."""
    page = client.get("/", params={"period": scenario.PERIOD})
    assert page.status_code == 200, page.text[:300]
    row = re.search(rf'data-subject="{subject}">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    score = re.search(r'class="num score">([0-9.]+)<', row.group(1))
    counts = re.findall(r'class="num">([0-9.]+)<', row.group(1))
    assert score
    assert counts
    return float(score.group(1)), int(counts[-1])


@pytest.mark.integration
def test_the_overview_is_kept_then_recomputed(console: tuple[str, Store]) -> None:
    url, store = console
    client = log_in(url, "cert")
    try:
        before = score_of(client, "anchor-zhao")
        extra = scenario.rival_violations()[0]
        store.insert("violations", [violation_row(dataclasses.replace(extra, event_id="extra-1"))])
        assert score_of(client, "anchor-zhao") == before  # written behind the console's back: stale
        time.sleep(TTL_S + 0.5)
        after = score_of(client, "anchor-zhao")
        assert after[1] == before[1] + 1
        assert after[0] < before[0]
    finally:
        client.close()


@pytest.mark.integration
def test_a_review_in_the_console_drops_the_kept_overview(console: tuple[str, Store]) -> None:
    url, _ = console
    client = log_in(url, "cert")
    try:
        score, count = score_of(client, "anchor-xiaomei")
        violation = scenario.starlight_violations()[0].event_id
        form = {"decision": "dismiss", "reason": "false positive", "csrf_token": csrf_of(client)}
        response = client.post(f"/violations/{violation}/review", data=form)
        assert response.status_code == 303, response.text[:300]
        dismissed = score_of(client, "anchor-xiaomei")  # at once, well within the TTL
        assert dismissed[1] == count - 1
        assert dismissed[0] > score
    finally:
        client.close()


@pytest.mark.integration
def test_a_review_in_the_console_drops_the_kept_case(console: tuple[str, Store]) -> None:
    """The violation page is kept like the overview; the redirect after a review shows it."""
    url, _ = console
    client = log_in(url, "cert")
    try:
        violation = scenario.starlight_violations()[0].event_id
        before = client.get(f"/violations/{violation}")  # loads and keeps the case
        assert before.status_code == 200, before.text[:300]
        assert "needs a second look" not in before.text
        form = {"decision": "dismiss", "reason": "needs a second look", "csrf_token": csrf_of(client)}
        response = client.post(f"/violations/{violation}/review", data=form)
        assert response.status_code == 303, response.text[:300]
        after = client.get(f"/violations/{violation}")  # at once, well within the TTL
        assert after.status_code == 200
        assert "needs a second look" in after.text
    finally:
        client.close()


@pytest.mark.integration
def test_a_kept_case_is_not_shown_to_another_scope(console: tuple[str, Store]) -> None:
    """The certifier's kept case of the rival MCN is no use to a starlight officer: still 404."""
    url, _ = console
    certifier, officer = log_in(url, "cert"), log_in(url, "officer")
    try:
        rival = scenario.rival_violations()[0].event_id
        assert certifier.get(f"/violations/{rival}").status_code == 200  # kept for the certifier
        assert officer.get(f"/violations/{rival}").status_code == 404
        assert officer.get(f"/violations/{rival}/clip.wav").status_code == 404
    finally:
        certifier.close()
        officer.close()
