"""The console keeps answering while slow requests run (issue 16, item 7), over real HTTP on the
embedded store: warehouse queries, clip cutting and bundle building run in threads, so a static
file, the login page or the live feed is not queued behind eight overview loads or an export.

Timings are compared with each other, never with a fixed bound: on a loaded two-core machine
everything is slower, but a request that waits for the event loop waits for the slow ones."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.config import Settings, load_settings
from pipeline.console.users import add_user
from pipeline.warehouse import open_store
from tests import scenario
from tests.conftest import unique_database
from tests.console_support import csrf_of, log_in, running_console

pytestmark = pytest.mark.integration
SLOW_REQUESTS = 8


@pytest.fixture(scope="module")
def console_settings(embedded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        warehouse="embedded",
        data_dir=embedded_dir,
        clickhouse_database=unique_database(),
        console_overview_cache_s=0,  # eight overviews that each cost the store (not one kept)
        evidence_key_file=tmp_path_factory.mktemp("keys") / "evidence.pem",
    )


@pytest.fixture(scope="module")
def console_url(console_settings: Settings) -> Iterator[str]:
    with open_store(console_settings) as store:
        scenario.seed(store)
        add_user(store, "cert", "correct horse battery", "certifier")
        with running_console(console_settings, store) as url:
            yield url


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    assert response.status_code == 200, response.text[:300]
    return time.perf_counter() - started


def while_busy(
    slow: list[Callable[[], httpx.Response]], quick: Callable[[], httpx.Response]
) -> tuple[list[float], list[float]]:
    """Run the ``slow`` calls at once and ``quick`` over and over meanwhile: both sets of times."""
    slow_times: list[float] = []
    threads = [threading.Thread(target=lambda c=c: slow_times.append(timed(c))) for c in slow]
    for thread in threads:
        thread.start()
    time.sleep(0.05)  # let them reach the server first
    quick_times = []
    while any(t.is_alive() for t in threads):
        quick_times.append(timed(quick))
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    return slow_times, quick_times


def test_a_static_file_is_not_queued_behind_overview_loads(console_url: str) -> None:
    reader = log_in(console_url, "cert")  # one session (a user holds five at most); httpx is thread-safe
    anonymous = httpx.Client(base_url=console_url, timeout=60)
    try:
        timed(lambda: reader.get("/"))  # warm: templates, the rules, the store
        slow, quick = while_busy(
            [
                lambda m=m: reader.get("/", params={"period": f"2026-{m:02d}"})
                for m in range(1, SLOW_REQUESTS + 1)
            ],
            lambda: anonymous.get("/static/style.css"),
        )
    finally:
        reader.close()
        anonymous.close()
    # On the event loop a static file waited for the overviews ahead of it (as long as one or more);
    # off it, it answers in a fraction of one overview's time while they are still running.
    assert max(quick) < statistics.median(slow) / 3, (quick, slow)


def test_the_login_page_answers_during_an_export(console_url: str) -> None:
    exporter = log_in(console_url, "cert")
    csrf = csrf_of(exporter)
    anonymous = httpx.Client(base_url=console_url, timeout=60)
    export = {"anchor_id": scenario.STARLIGHT.anchor_id, "period": scenario.PERIOD, "csrf_token": csrf}
    try:
        slow, quick = while_busy(
            [lambda: exporter.post("/evidence/export", data=export)] * 3,
            lambda: anonymous.get("/login"),
        )
    finally:
        exporter.close()
        anonymous.close()
    assert statistics.median(quick) < min(slow) / 3, (quick, slow)
