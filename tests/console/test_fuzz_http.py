"""The console's HTTP parameters, fuzzed: whatever a client sends, the answer is never a 500.

A logged-in certifier (and an anonymous client) sends arbitrary query values, path ids, form
fields, cookies and uploads to every route, on the embedded store seeded with the console test
scenario. Any status below 500 is acceptable (400, 404, 413, 422, 429 are the refusals); a 500, or an
exception escaping the app, fails with the request that caused it. Request bodies past the
``console_max_body_bytes`` limit are answered 413 naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.config import Settings, load_settings
from pipeline.console.users import add_user
from pipeline.reporting.panels import PANELS
from pipeline.warehouse import Store, open_store
from tests import scenario
from tests.conftest import unique_database
from tests.console_support import PASSWORD, csrf_of, log_in, running_console

pytestmark = pytest.mark.integration
HTTP = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
IDS = [v.event_id for v in scenario.starlight_violations()] + [
    v.event_id for v in scenario.rival_violations()
]

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
values = (
    texts
    | st.sampled_from(["", "2026-11", "2026-13", "0000-00", "9999-12", "-1", "1e309", "nan", "NaN", "inf"])
    | st.sampled_from(["' OR '1'='1", "{scope}", "%(scope_mcn_0)s", "../../etc/passwd", "\x00", "a" * 3000])
    | st.sampled_from(IDS)
    | st.sampled_from(["9999-12-31T23:59:59-23:59|x", "0001-01-01T00:00:00+23:59|", "2026-11-20T20:00:00"])
)
params = st.dictionaries(
    st.sampled_from(["period", "anchor", "mcn", "level", "limit", "lang", "next", "since", "x"]),
    values,
    max_size=4,
)


@pytest.fixture(scope="module")
def console_settings(embedded_dir: Path) -> Settings:
    return load_settings(
        warehouse="embedded",
        data_dir=embedded_dir,
        clickhouse_database=unique_database(),
        console_max_body_bytes=64 * 1024,
    )


@pytest.fixture(scope="module")
def seeded(console_settings: Settings) -> Iterator[Store]:
    with open_store(console_settings) as store:
        scenario.seed(store)
        add_user(store, "cert", PASSWORD, "certifier")
        add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id="mcn-starlight")
        yield store


@pytest.fixture(scope="module")
def console_url(console_settings: Settings, seeded: Store) -> Iterator[str]:
    """A real console (uvicorn on a loopback port): a server exception is a 500 on the wire."""
    with running_console(console_settings, seeded) as url:
        yield url


@pytest.fixture(scope="module")
def anonymous(console_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, timeout=30) as client:
        yield client


def _session(console_url: str, username: str) -> Iterator[tuple[httpx.Client, str]]:
    """A logged-in client and its CSRF token."""
    client = log_in(console_url, username)
    try:
        yield client, csrf_of(client)
    finally:
        client.close()


@pytest.fixture(scope="module")
def certifier(console_url: str) -> Iterator[tuple[httpx.Client, str]]:
    yield from _session(console_url, "cert")


@pytest.fixture(scope="module")
def officer(console_url: str) -> Iterator[tuple[httpx.Client, str]]:
    yield from _session(console_url, "officer")


def not_a_server_error(response: object, what: str) -> None:
    status = getattr(response, "status_code", 0)
    assert status < 500, f"{what} -> {status}: {getattr(response, 'text', '')[:300]}"


GET_ROUTES = [
    "/",
    "/violations",
    "/violations/{id}",
    "/violations/{id}/clip.wav",
    "/live",
    "/evidence",
    "/audit",
    "/api/scores",
    "/api/violations",
    "/api/violations/{id}",
    *[f"/api/panels/{panel.id}" for panel in PANELS],
    "/api/panels/{id}",
    "/login",
]


@pytest.mark.slow
@pytest.mark.parametrize("route", GET_ROUTES)
@settings(HTTP, max_examples=40)
@given(query=params, path_id=values, language=values)
@example(query={"period": "9999-12"}, path_id=IDS[0], language="en")
@example(query={"limit": "99999999999999999999999"}, path_id="", language="zh")
def test_get_routes_never_fail(
    certifier: tuple[httpx.Client, str], route: str, query: dict[str, str], path_id: str, language: str
) -> None:
    client, _ = certifier
    url = route.replace("{id}", quote(path_id, safe="") or "x")
    client.cookies.set("cw_lang", quote(language, safe=""))
    not_a_server_error(client.get(url, params=query, follow_redirects=False), f"GET {url} {query}")


@pytest.mark.slow
@HTTP
@given(since=values, max_s=st.sampled_from(["0", "-1", "nan", "0.05", "1e400", "x"]), last_event=values)
@example(since="9999-12-31T23:59:59-23:59|x", max_s="0", last_event="")
@example(since="", max_s="0", last_event="0001-01-01T00:00:00+23:59|")
def test_live_event_stream_never_fails(
    officer: tuple[httpx.Client, str], since: str, max_s: str, last_event: str
) -> None:
    client, _ = officer
    headers = {"last-event-id": quote(last_event, safe="|:+-")} if last_event else {}
    query = {"since": since, "max_s": max_s}
    with client.stream("GET", "/live/events", params=query, headers=headers) as response:
        not_a_server_error(response, f"GET /live/events since={since!r} max_s={max_s!r}")
        if response.status_code == 200:  # the first event, then hang up (streams last minutes)
            assert next(response.iter_text()).startswith("retry:")


@pytest.mark.slow
@HTTP
@given(path_id=values, decision=values | st.sampled_from(["confirm", "dismiss"]), reason=values)
def test_review_form_never_fails(
    certifier: tuple[httpx.Client, str], path_id: str, decision: str, reason: str
) -> None:
    client, csrf = certifier
    url = f"/violations/{quote(path_id, safe='') or 'x'}/review"
    response = client.post(
        url, data={"decision": decision, "reason": reason, "csrf_token": csrf}, follow_redirects=False
    )
    not_a_server_error(response, f"POST {url} decision={decision!r}")


@pytest.mark.slow
@HTTP
@given(violation_id=values, anchor_id=values | st.just("anchor-xiaomei"), period=values)
def test_evidence_export_form_never_fails(
    officer: tuple[httpx.Client, str], violation_id: str, anchor_id: str, period: str
) -> None:
    client, csrf = officer
    form = {"violation_id": violation_id, "anchor_id": anchor_id, "period": period}
    response = client.post("/evidence/export", data=form, headers={"x-csrf-token": csrf})
    not_a_server_error(response, f"POST /evidence/export {form}")


@pytest.mark.slow
@HTTP
@given(bundle=st.binary(max_size=2000) | st.just(b"PK\x05\x06" + b"\x00" * 18), name=values)
def test_bundle_upload_never_fails(certifier: tuple[httpx.Client, str], bundle: bytes, name: str) -> None:
    client, csrf = certifier
    files = {"bundle": (name or "b.zip", bundle, "application/zip")}
    response = client.post("/evidence/verify", files=files, headers={"x-csrf-token": csrf})
    not_a_server_error(response, f"POST /evidence/verify ({len(bundle)} bytes)")


@pytest.mark.slow
@HTTP
@given(username=values, password=values, token=values, next_page=values)
def test_login_form_never_fails(
    anonymous: httpx.Client, username: str, password: str, token: str, next_page: str
) -> None:
    anonymous.cookies.set("cw_login_csrf", quote(token, safe="") or "t")
    form = {"username": username, "password": password, "csrf_token": token, "next": next_page}
    response = anonymous.post("/login", data=form, follow_redirects=False)
    not_a_server_error(response, f"POST /login {form}")


def test_request_bodies_past_the_limit_are_refused(certifier: tuple[httpx.Client, str]) -> None:
    client, csrf = certifier
    big = {"decision": "confirm", "reason": "x" * (70 * 1024), "csrf_token": csrf}
    response = client.post(f"/violations/{IDS[0]}/review", data=big)
    assert response.status_code == 413
    assert "console_max_body_bytes" in response.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as the form is read
        yield f"csrf_token={csrf}&decision=confirm&reason=".encode()
        for _ in range(70):
            yield b"x" * 1024

    form = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post(f"/violations/{IDS[0]}/review", content=chunks(), headers=form)
    assert response.status_code == 413
    upload = {"bundle": ("b.zip", b"\x00" * (70 * 1024), "application/zip")}
    response = client.post("/evidence/verify", files=upload, headers={"x-csrf-token": csrf})
    # bundle uploads have their own, larger limit: read, and refused as no bundle (400), not as too big
    assert response.status_code == 400, response.text[:300]
