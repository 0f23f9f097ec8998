"""The kept session checks (issue 16, item 7): on an embedded warehouse a checked session is kept
in memory, and every change that could refuse it (logout, eviction, a disabled account, a new
password or role) drops it at once; on a server warehouse, which other processes write, the
check always reads the warehouse. Over real HTTP on both stores; the cache itself with a clock."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipeline.config import Settings
from pipeline.console import sessions
from pipeline.console.cache import SessionCache
from pipeline.console.sessions import Session
from pipeline.console.users import User, add_user, reset_password, set_disabled, set_role
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.console_support import PASSWORD, csrf_of, log_in, running_console

USER = User("li", "certifier")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def session(seen_ago_s: float = 0.0, expires_in_s: float = 3600.0) -> Session:
    now = datetime.now(UTC)
    return Session(
        "hash", "li", "csrf", now - timedelta(hours=1), now + timedelta(seconds=expires_in_s),
        now - timedelta(seconds=seen_ago_s),
    )  # fmt: skip


def test_a_check_is_kept_for_its_ttl() -> None:
    clock, generation = Clock(), [0]
    cache = SessionCache(60.0, clock, lambda: generation[0])
    cache.put("k", 0, session(), USER)
    kept = cache.get("k", 1800.0)
    assert kept is not None
    assert (kept[0].token_hash, kept[1]) == ("hash", USER)
    clock.now = 59.9
    assert cache.get("k", 1800.0) is not None
    clock.now = 60.1
    assert cache.get("k", 1800.0) is None
    assert len(cache) == 0


def test_any_session_or_account_change_drops_every_kept_check() -> None:
    generation = [7]
    cache = SessionCache(60.0, Clock(), lambda: generation[0])
    cache.put("a", 7, session(), USER)
    cache.put("b", 6, session(), USER)  # read before a change: stale from the start
    assert cache.get("b", 1800.0) is None
    assert cache.get("a", 1800.0) is not None
    generation[0] = 8
    assert cache.get("a", 1800.0) is None


def test_the_process_change_counter_moves_on_endings_and_account_writes(store: Store) -> None:
    add_user(store, "li", PASSWORD, "certifier")
    before = sessions.changes()
    token, _ = sessions.create_session(store, "li", 1.0)
    assert sessions.changes() == before  # a new session refuses nobody
    sessions.end_token(store, token)
    assert sessions.changes() > before
    before = sessions.changes()
    set_role(store, "li", "auditor")
    assert sessions.changes() > before


def test_a_kept_check_is_not_used_when_idle_expired_or_due_for_its_touch() -> None:
    cache = SessionCache(600.0, Clock(), lambda: 0)
    cache.put("idle", 0, session(seen_ago_s=40.0), USER)
    assert cache.get("idle", 30.0) is None  # idle past the timeout
    cache.put("due", 0, session(seen_ago_s=61.0), USER)
    assert cache.get("due", 1800.0) is None  # its use is due to be written: read the warehouse
    cache.put("expired", 0, session(expires_in_s=-1.0), USER)
    assert cache.get("expired", 1800.0) is None
    cache.put("fine", 0, session(seen_ago_s=10.0), USER)
    assert cache.get("fine", 1800.0) is not None


def test_a_zero_ttl_keeps_nothing_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    none = SessionCache(0.0, Clock(), lambda: 0)
    none.put("k", 0, session(), USER)
    assert len(none) == 0
    monkeypatch.setattr(SessionCache, "MAX_ENTRIES", 3)
    clock = Clock()
    bounded = SessionCache(60.0, clock, lambda: 0)
    for n in range(10):
        bounded.put(f"k{n}", 0, session(), USER)
        assert len(bounded) <= 3
    assert bounded.get("k9", 1800.0) is not None


# ---------------------------------------------------------------------------------------------
# Over HTTP, on both stores


class Counting:
    """Counts the store's queries of the sessions and users tables (the session check)."""

    def __init__(self, store: Store) -> None:
        self.checks = 0
        self._query = store.query

    def __call__(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        if "FROM sessions" in sql or "FROM users" in sql:
            self.checks += 1
        return self._query(sql, params)


@pytest.fixture
def console(
    store: Store, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Store, Counting]]:
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier")
    add_user(store, "cert2", PASSWORD, "certifier")
    add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id=scenario.STARLIGHT.mcn_id)
    counting = Counting(store)
    monkeypatch.setattr(store, "query", counting)
    with running_console(store_settings, store) as url:
        yield url, store, counting


def stolen(client: httpx.Client, url: str) -> httpx.Client:
    """Another client holding a copy of ``client``'s session cookie."""
    copy = httpx.Client(base_url=url, timeout=30)
    copy.cookies.set("cw_session", client.cookies["cw_session"])
    return copy


def logged_in(response: httpx.Response) -> bool:
    """200 for a page; a redirect to the login when the session no longer counts."""
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login")
        return False
    assert response.status_code == 200, response.text[:300]
    return True


@pytest.mark.integration
def test_the_check_is_kept_only_on_the_embedded_store(console: tuple[str, Store, Counting]) -> None:
    url, store, counting = console
    client = log_in(url, "cert")
    try:
        assert logged_in(client.get("/live"))
        counting.checks = 0
        for _ in range(3):
            assert logged_in(client.get("/live"))
        if store.kind == "embedded":
            assert counting.checks == 0  # kept (from the login on)
        else:
            assert counting.checks == 3  # one query (the session joined with its user) a request
    finally:
        client.close()


@pytest.mark.integration
def test_a_logout_ends_the_session_at_once(console: tuple[str, Store, Counting]) -> None:
    url, _, _ = console
    client = log_in(url, "cert")
    copy = stolen(client, url)
    try:
        assert logged_in(copy.get("/live"))  # the check is kept now (embedded)
        response = client.post("/logout", data={"csrf_token": csrf_of(client)})
        assert response.status_code == 303
        assert not logged_in(copy.get("/live"))
        assert copy.get("/api/scores", params={"period": scenario.PERIOD}).status_code == 401
    finally:
        client.close()
        copy.close()


@pytest.mark.integration
def test_a_disabled_account_is_refused_at_once(console: tuple[str, Store, Counting]) -> None:
    url, store, _ = console
    officer, certifier = log_in(url, "officer"), log_in(url, "cert")
    try:
        assert logged_in(officer.get("/live"))
        form = {"csrf_token": csrf_of(certifier)}
        assert certifier.post("/accounts/officer/disable", data=form).status_code in (200, 303)
        assert not logged_in(officer.get("/live"))
        # and so on the other way in, as the administration socket and the CLI do it
        again = log_in(url, "cert2")
        assert logged_in(again.get("/live"))
        set_disabled(store, "cert2")
        assert not logged_in(again.get("/live"))
        again.close()
    finally:
        officer.close()
        certifier.close()


@pytest.mark.integration
def test_a_new_password_or_role_takes_effect_at_once(console: tuple[str, Store, Counting]) -> None:
    url, store, _ = console
    officer = log_in(url, "officer")
    rival = scenario.rival_violations()[0].event_id
    try:
        assert officer.get(f"/violations/{rival}").status_code == 404  # another MCN's
        set_role(store, "officer", "auditor")
        assert officer.get(f"/violations/{rival}").status_code == 200  # an auditor sees every MCN
        set_role(store, "officer", "mcn_officer", mcn_id=scenario.STARLIGHT.mcn_id)
        assert officer.get(f"/violations/{rival}").status_code == 404  # and back, at once
        reset_password(store, "officer")
        assert not logged_in(officer.get("/live"))
    finally:
        officer.close()


@pytest.mark.integration
def test_an_evicted_session_is_refused_at_once(console: tuple[str, Store, Counting]) -> None:
    url, _, _ = console
    oldest = log_in(url, "cert")
    others: list[httpx.Client] = []
    try:
        assert logged_in(oldest.get("/live"))
        time.sleep(1.1)  # the server keeps whole seconds: the first is the oldest by its time
        others = [log_in(url, "cert") for _ in range(5)]  # the sixth session ends the first
        assert not logged_in(oldest.get("/live"))
        assert all(logged_in(c.get("/live")) for c in others)
    finally:
        for c in [oldest, *others]:
            c.close()


@pytest.mark.integration
@pytest.mark.slow
def test_kept_checks_still_write_uses_down_and_time_out_when_idle(
    store: Store, store_settings: Settings
) -> None:
    """Idle timeout 3 s (a use written every 0.75 s): a user busy for longer stays in, and is out
    once idle for 3 s, with the checks kept as on any request."""
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier")
    settings = store_settings.model_copy(update={"console_session_idle_s": 3.0})
    with running_console(settings, store) as url:
        client = log_in(url, "cert")
        try:
            until = time.monotonic() + 5.0
            while time.monotonic() < until:
                assert logged_in(client.get("/live"))
                time.sleep(0.4)
            time.sleep(3.5)
            assert not logged_in(client.get("/live"))
        finally:
            client.close()


@pytest.mark.integration
def test_a_fresh_live_feed_still_sends_what_is_written_after_it_connects(
    store: Store, store_settings: Settings
) -> None:
    """A fresh connection polls first after one interval (nothing can be newer before): a
    violation written right after it connected still arrives."""
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier")
    settings = store_settings.model_copy(update={"console_sse_interval_s": 0.5})
    with running_console(settings, store) as url:
        client = log_in(url, "cert")
        try:
            with client.stream("GET", "/live/events", params={"max_s": 4}) as response:
                chunks = response.iter_text()
                assert next(chunks).startswith("retry: 500")
                new = dataclasses.replace(scenario.starlight_violations()[0], event_id="live-after-connect")
                store.insert("violations", [violation_row(new)])
                body = ""
                for chunk in chunks:
                    body += chunk
                    if "live-after-connect" in body:
                        break
                assert "event: violation" in body
                assert "live-after-connect" in body
        finally:
            client.close()
