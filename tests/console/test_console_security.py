"""Console security over real HTTP, on both stores: anonymous access, MCN isolation, injection,
CSRF, roles, rate-limited logins (per account and address, behind a trusted proxy), sessions (idle
timeout, a cap per user), names an officer must not learn, and the audit trail of refusals."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute

from pipeline.config import Settings
from pipeline.console.app import ROUTERS
from pipeline.console.users import add_user, set_disabled
from pipeline.reporting.panels import PANELS
from pipeline.warehouse import Store
from tests import scenario
from tests.console_support import PASSWORD, csrf_of, log_in, login_token, running_console

pytestmark = pytest.mark.integration

STARLIGHT_IDS = [v.event_id for v in scenario.starlight_violations()]
RIVAL_IDS = [v.event_id for v in scenario.rival_violations()]
RIVAL_MARKERS = [scenario.SECRET, "mcn-rival", "anchor-zhao", *RIVAL_IDS]
OLD_CURSOR = "2000-01-01T00:00:00Z|"
INJECTIONS = [
    "' OR '1'='1",
    "x' OR 1=1 --",
    "'; DROP TABLE violations; --",
    "\\' OR 1=1 --",
    "mcn-starlight' OR mcn_id = 'mcn-rival",
    "anchor-zhao') OR ('1'='1",
    "%(scope_mcn_0)s",
    "{scope}",
    "1 UNION ALL SELECT * FROM users",
]


@dataclass
class Console:
    url: str
    store: Store
    settings: Settings
    clients: list[httpx.Client] = field(default_factory=list)

    def login(self, username: str) -> httpx.Client:
        self.clients.append(log_in(self.url, username))
        return self.clients[-1]


def serve(store: Store, settings: Settings) -> Iterator[Console]:
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier")
    add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id="mcn-starlight")
    add_user(store, "auditor", PASSWORD, "auditor")
    with running_console(settings, store) as url:
        running = Console(url, store, settings)
        yield running
        for client in running.clients:
            client.close()


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[Console]:
    yield from serve(store, store_settings)


@pytest.fixture
def proxied(store: Store, store_settings: Settings) -> Iterator[Console]:
    """The console behind a TLS proxy on loopback whose X-Forwarded-For it believes."""
    yield from serve(store, store_settings.model_copy(update={"console_trusted_proxies": "127.0.0.1"}))


def get_urls() -> list[str]:
    """Every GET a reader can make, with the rival MCN's ids and names in every parameter."""
    rival = RIVAL_IDS[0]
    urls = [
        "/",
        "/?period=2026-11",
        "/violations",
        "/violations?anchor=anchor-zhao",
        "/live",
        "/evidence",
        "/audit",
        f"/violations/{rival}",
        f"/violations/{rival}/clip.wav",
        f"/api/violations/{rival}",
        "/api/scores?level=mcn",
        "/api/scores?level=anchor",
        "/api/scores?level=mcn&mcn=mcn-rival",
        "/api/scores?level=anchor&anchor=anchor-zhao",
        "/api/violations",
        "/api/violations?anchor=anchor-zhao",
        f"/live/events?since={OLD_CURSOR}&max_s=0.5",
    ]
    return urls + [f"/api/panels/{p.id}?period=2026-11" for p in PANELS]


def test_every_route_refuses_anonymous_access(console: Console) -> None:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    routes = [r for r in routes if r.path != "/login"]
    assert len(routes) >= 15
    with httpx.Client(base_url=console.url, timeout=30) as anonymous:
        for route in routes:
            path = route.path.replace("{event_id}", STARLIGHT_IDS[0]).replace("{panel_id}", "scores_mcn")
            for method in route.methods:
                response = anonymous.request(
                    method, path, data={"csrf_token": "x"} if method == "POST" else None
                )
                if method == "GET" and not path.startswith(("/api/", "/live/events")):
                    assert response.status_code == 303, path
                    assert response.headers["location"].startswith("/login?next="), path
                else:
                    assert response.status_code == 401, (method, path, response.status_code)
                assert scenario.SECRET not in response.text


def test_an_officer_gets_nothing_of_another_mcn(console: Console) -> None:
    officer, certifier = console.login("officer"), console.login("cert")
    for url in get_urls():
        mine = officer.get(url)
        assert mine.status_code in (200, 404), (url, mine.status_code)
        for marker in RIVAL_MARKERS:
            if marker not in url:  # a page may repeat what was asked, never what is stored
                assert marker not in mine.text, (url, marker)
    # the same requests do show the rival's data to a certifier, so the check above can fail
    assert scenario.SECRET in certifier.get("/violations").text
    assert scenario.SECRET in certifier.get(f"/api/violations/{RIVAL_IDS[0]}").text
    assert officer.get(f"/violations/{STARLIGHT_IDS[0]}").status_code == 200
    token = csrf_of(officer)
    for form in ({"violation_id": RIVAL_IDS[0]}, {"anchor_id": "anchor-zhao", "period": "2026-11"}):
        refused = officer.post("/evidence/export", data={**form, "csrf_token": token})
        assert refused.status_code == 404
        assert scenario.SECRET not in refused.text


def test_live_events_are_scoped(console: Console) -> None:
    def events(client: httpx.Client) -> list[dict[str, str]]:
        body = client.get(f"/live/events?since={OLD_CURSOR}&max_s=0.5").text
        return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]

    assert {e["mcn_id"] for e in events(console.login("officer"))} == {"mcn-starlight"}
    assert len(events(console.login("cert"))) == len(STARLIGHT_IDS) + len(RIVAL_IDS)


def test_injection_in_every_parameter_fails_harmlessly(console: Console) -> None:
    officer = console.login("officer")
    before = console.store.table_counts()
    token = csrf_of(officer)
    for payload in INJECTIONS:
        segment = quote(payload, safe="")
        requests = [
            ("/", {"period": payload}),
            ("/violations", {"anchor": payload}),
            ("/violations", {"period": payload}),
            ("/api/scores", {"level": "anchor", "mcn": payload}),
            ("/api/scores", {"anchor": payload}),
            ("/api/scores", {"level": payload}),
            ("/api/violations", {"anchor": payload, "limit": payload}),
            ("/api/violations", {"period": payload}),
            (f"/api/panels/{segment}", {}),
            ("/api/panels/scores_anchor", {"period": payload}),
            (f"/api/violations/{segment}", {}),
            (f"/violations/{segment}", {}),
            (f"/violations/{segment}/clip.wav", {}),
            ("/live/events", {"since": payload, "max_s": "0.2"}),
        ]
        for url, params in requests:
            response = officer.get(url, params=params)
            assert response.status_code < 500, (url, params, response.status_code)
            for marker in RIVAL_MARKERS:
                if marker not in payload:  # an error may repeat the input, never stored data
                    assert marker not in response.text, (url, params, marker)
        for form in ({"violation_id": payload}, {"anchor_id": payload, "period": "2026-11"}):
            response = officer.post("/evidence/export", data={**form, "csrf_token": token})
            assert response.status_code in (400, 404), (form, response.status_code)
        with httpx.Client(base_url=console.url) as anonymous:
            response = anonymous.post(
                "/login",
                data={"username": payload, "password": payload, "csrf_token": login_token(anonymous)},
            )
            assert response.status_code in (401, 429)
    assert console.store.table_counts()["violations"] == before["violations"]


def test_state_changes_need_the_session_csrf_token(console: Console) -> None:
    cert, other = console.login("cert"), console.login("auditor")
    target = f"/violations/{STARLIGHT_IDS[0]}/review"
    form = {"decision": "dismiss", "reason": "not a claim"}
    assert cert.post(target, data=form).status_code == 403
    assert cert.post(target, data={**form, "csrf_token": "forged"}).status_code == 403
    assert cert.post(target, data={**form, "csrf_token": csrf_of(other)}).status_code == 403
    assert cert.post("/logout").status_code == 403
    with httpx.Client(base_url=console.url) as anonymous:
        no_cookie = anonymous.post(
            "/login", data={"username": "cert", "password": PASSWORD, "csrf_token": "x"}
        )
        assert no_cookie.status_code == 403
    assert console.store.query("SELECT count() AS n FROM reviews FINAL") == [{"n": 0}]


def test_only_certifiers_review_and_reviews_are_audited(console: Console) -> None:
    target = f"/violations/{STARLIGHT_IDS[0]}/review"
    for name in ("officer", "auditor"):
        client = console.login(name)
        response = client.post(
            target, data={"decision": "dismiss", "reason": "x", "csrf_token": csrf_of(client)}
        )
        assert response.status_code == 403
    cert = console.login("cert")
    token = csrf_of(cert)
    assert (
        cert.post(target, data={"decision": "dismiss", "reason": " ", "csrf_token": token}).status_code == 400
    )
    done = cert.post(target, data={"decision": "dismiss", "reason": "quoting a rule", "csrf_token": token})
    assert done.status_code == 303
    auditor = console.login("auditor")
    export = auditor.post(
        "/evidence/export", data={"violation_id": STARLIGHT_IDS[0], "csrf_token": csrf_of(auditor)}
    )
    assert export.status_code == 200
    assert export.headers["content-type"] == "application/zip"
    rows = console.store.query(
        "SELECT actor, action, target FROM audit_log "
        "WHERE action IN ('review.dismiss', 'evidence.export') ORDER BY action"
    )
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("auditor", "evidence.export"),
        ("cert", "review.dismiss"),
    ]


def test_wrong_passwords_are_rate_limited(console: Console) -> None:
    limit = console.settings.console_login_attempts
    with httpx.Client(base_url=console.url) as client:
        for _ in range(limit):
            wrong = {"username": "officer", "password": "guess-guess", "csrf_token": login_token(client)}
            assert client.post("/login", data=wrong).status_code == 401
        right = {"username": "officer", "password": PASSWORD, "csrf_token": login_token(client)}
        refused = client.post("/login", data=right)
        assert refused.status_code == 429
        assert "登录失败次数过多" in refused.text
    assert console.login("cert").get("/").status_code == 200  # another user is not locked out


def test_logout_and_disabling_end_sessions(console: Console) -> None:
    cert = console.login("cert")
    assert cert.post("/logout", data={"csrf_token": csrf_of(cert)}).status_code == 303
    assert cert.get("/").status_code == 303
    officer = console.login("officer")
    assert officer.get("/").status_code == 200
    set_disabled(console.store, "officer")
    assert officer.get("/").status_code == 303
    assert officer.get("/api/scores").status_code == 401


def test_pages_send_security_headers_and_no_third_party_assets(console: Console) -> None:
    page = console.login("cert").get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "http://" not in page.text.replace(console.url, "")
    assert "https://" not in page.text
    assert "/static/vendor/echarts.min.js" in page.text


def attempt(console: Console, username: str, password: str, address: str = "") -> int:
    """One login from a fresh client (``address``: the X-Forwarded-For a proxy would add)."""
    headers = {"X-Forwarded-For": address} if address else {}
    with httpx.Client(base_url=console.url, headers=headers) as client:
        form = {"username": username, "password": password, "csrf_token": login_token(client)}
        return client.post("/login", data=form).status_code


def test_wrong_passwords_from_one_address_do_not_lock_the_account_for_another(proxied: Console) -> None:
    limit = proxied.settings.console_login_attempts
    for _ in range(limit):
        assert attempt(proxied, "cert", "guess-guess", "203.0.113.7") == 401
    assert attempt(proxied, "cert", PASSWORD, "203.0.113.7") == 429  # that address, that account
    assert attempt(proxied, "cert", PASSWORD, "198.51.100.2") == 303  # the certifier elsewhere
    assert attempt(proxied, "officer", PASSWORD, "203.0.113.7") == 303  # another account there


def test_random_names_from_one_address_lock_out_only_that_address(proxied: Console) -> None:
    for i in range(proxied.settings.console_login_attempts * 4):
        assert attempt(proxied, f"random-{i}", "guess-guess", "203.0.113.9, 10.0.0.1") in (401, 429)
    assert attempt(proxied, "cert", PASSWORD, "203.0.113.9, 10.0.0.1") == 429
    assert attempt(proxied, "cert", PASSWORD, "198.51.100.3") == 303  # everyone else behind the proxy


def test_forwarded_for_is_not_believed_from_an_untrusted_peer(console: Console) -> None:
    for i in range(console.settings.console_login_attempts):
        assert attempt(console, "officer", "guess-guess", f"192.0.2.{i}") == 401
    assert attempt(console, "officer", PASSWORD, "192.0.2.200") == 429  # same peer, same budget


def test_throttled_logins_are_audited_for_the_certifier(proxied: Console) -> None:
    for _ in range(proxied.settings.console_login_attempts + 3):
        attempt(proxied, "auditor", "guess-guess", "203.0.113.50")
    rows = proxied.store.query(
        "SELECT actor, target, mcn_id, details FROM audit_log WHERE action = 'login.throttled'"
    )
    assert rows
    assert rows[0]["target"] == "auditor"
    assert rows[0]["mcn_id"] == ""
    assert json.loads(rows[0]["details"])["client"] == "203.0.113.50"
    assert "login.throttled" in proxied.login("cert").get("/audit").text
    assert "login.throttled" not in proxied.login("officer").get("/audit").text


def test_an_officer_cannot_learn_the_certifiers_user_name(console: Console) -> None:
    add_user(console.store, "chief-wang", PASSWORD, "certifier", display_name="chief-wang")
    chief, officer = console.login("chief-wang"), console.login("officer")
    target = STARLIGHT_IDS[0]
    form = {"decision": "confirm", "reason": "claim as heard", "csrf_token": csrf_of(chief)}
    assert chief.post(f"/violations/{target}/review", data=form).status_code == 303
    pages = [officer.get(u).text for u in ("/audit", f"/violations/{target}", f"/api/violations/{target}")]
    pages.append(officer.get("/api/violations").text)
    export = officer.post("/evidence/export", data={"violation_id": target, "csrf_token": csrf_of(officer)})
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as bundle:
        pages += [bundle.read(name).decode("utf-8", "replace") for name in bundle.namelist()]
    for text in pages:
        assert "chief-wang" not in text
    assert "chief-wang" in chief.get("/audit").text  # the certifier still sees who did what
    assert "chief-wang" in chief.get(f"/violations/{target}").text


def test_refusals_and_uploads_reach_the_audit_log(console: Console) -> None:
    officer = console.login("officer")
    token = csrf_of(officer)
    review = {"decision": "dismiss", "reason": "x", "csrf_token": token}
    assert officer.post(f"/violations/{STARLIGHT_IDS[0]}/review", data=review).status_code == 403
    assert officer.get(f"/violations/{RIVAL_IDS[0]}").status_code == 404
    assert officer.get(f"/api/violations/{RIVAL_IDS[0]}").status_code == 404
    refused = officer.post("/evidence/export", data={"violation_id": RIVAL_IDS[0], "csrf_token": token})
    assert refused.status_code == 404
    officer.post("/evidence/verify", data={"csrf_token": token}, files={"bundle": ("x.zip", b"not a zip")})
    rows = console.store.query("SELECT actor, action, target, mcn_id, details FROM audit_log")
    denied = {(r["action"], r["target"]) for r in rows if r["actor"] == "officer"}
    assert ("access.forbidden", f"/violations/{STARLIGHT_IDS[0]}/review") in denied
    assert ("access.not_found", f"/violations/{RIVAL_IDS[0]}") in denied
    assert ("access.not_found", f"/api/violations/{RIVAL_IDS[0]}") in denied
    assert ("access.not_found", "/evidence/export") in denied
    assert ("evidence.verify", "x.zip") in denied
    probe = next(r for r in rows if r["target"] == f"/violations/{RIVAL_IDS[0]}")
    assert probe["mcn_id"] == ""  # seen by the certifier only: it names another MCN's id
    assert json.loads(probe["details"])["status"] == 404
    cert = console.login("cert")
    page = cert.get("/audit").text
    assert "access.not_found" in page
    assert "evidence.verify" in page
    refusals = cert.get("/audit?action=access.").text
    assert "access.forbidden" in refusals
    assert "<td>login</td>" not in refusals
    assert "access.not_found" not in officer.get("/audit").text


def test_audited_refusals_are_rate_limited(console: Console) -> None:
    officer = console.login("officer")
    for i in range(150):
        assert officer.get(f"/violations/probe-{i}").status_code == 404
    rows = console.store.query(
        "SELECT details FROM audit_log WHERE actor = 'officer' AND action = 'access.not_found'"
    )
    assert 1 <= len(rows) <= 60


def test_sessions_end_when_idle(store: Store, store_settings: Settings) -> None:
    settings = store_settings.model_copy(update={"console_session_idle_s": 3.0})
    for running in serve(store, settings):
        busy, idle = running.login("cert"), running.login("auditor")
        for _ in range(5):
            assert busy.get("/audit").status_code == 200
            time.sleep(1.0)
        assert idle.get("/").status_code == 303  # 5 s without a request
        assert busy.get("/").status_code == 200


def test_concurrent_sessions_per_user_are_capped(store: Store, store_settings: Settings) -> None:
    settings = store_settings.model_copy(update={"console_max_sessions": 2})
    for running in serve(store, settings):
        first = running.login("cert")
        time.sleep(1.1)  # sessions are ordered by their start, to the second
        second, third = running.login("cert"), running.login("cert")
        assert first.get("/").status_code == 303  # the oldest gave way
        assert second.get("/").status_code == 200
        assert third.get("/").status_code == 200
        assert running.login("auditor").get("/").status_code == 200
        actions = {r["action"] for r in running.store.query("SELECT action FROM audit_log")}
        assert "session.evicted" in actions
