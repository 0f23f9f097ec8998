"""Error pages over HTTP, on both stores: a 400, 403, 404, 405 and 500 is a page of the layout,
with the navigation of the logged-in reader (who must not look logged out), in the reader's
language with no English on the Chinese page; the API keeps its JSON; a logged-out reader gets
the page without navigation; the 429 of the login is the login page, in Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from pipeline.config import Settings
from pipeline.console import create_app
from pipeline.console.auth import LOGIN_COOKIE
from pipeline.console.users import add_user
from pipeline.warehouse import Store
from tests import console_support, scenario
from tests.console_support import PASSWORD, running_console

pytestmark = pytest.mark.integration
NAV = 'href="/live"'


def boom() -> None:
    raise RuntimeError("a bug")


@pytest.fixture
def app_client(
    store: Store, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    """A real server (uvicorn) for the console with two routes that fail, and a client of it."""
    scenario.seed(store)
    add_user(store, "cert", PASSWORD, "certifier", display_name="王审核")
    add_user(store, "li", PASSWORD, "mcn_officer", mcn_id="mcn-starlight", display_name="李合规")

    def with_a_bug(settings: Settings, opened: Store) -> FastAPI:
        app = create_app(settings, opened)
        app.add_api_route("/boom", boom)
        app.add_api_route("/api/boom", boom)
        return app

    monkeypatch.setattr(console_support, "create_app", with_a_bug)
    with running_console(store_settings, store) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def log_in(client: httpx.Client, username: str) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text[:300]


def visible(page: httpx.Response) -> str:
    """The page's text without markup, scripts and attributes."""
    body = re.sub(r"<script.*?</script>|<[^>]+>", " ", page.text, flags=re.S)
    return re.sub(r"\s+", " ", body)


def english_words(text: str) -> list[str]:
    rest = re.sub(r"[\w.@:+/-]*[\d_\-./@][\w.@:+/-]*", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{2,}", rest) if w not in {"ClaimWatch", "English"}]


CASES = [  # path, method, status, Chinese title
    ("/violations/no-such-id", "GET", 404, "未找到，或无权查看"),
    ("/nowhere", "GET", 404, "未找到，或无权查看"),
    ("/?period=2026-13", "GET", 400, "请求无效"),
    ("/violations?period=2026-1", "GET", 400, "请求无效"),
    ("/accounts", "GET", 403, "无权执行此操作"),  # for the officer
    ("/live", "POST", 405, "请求无效"),
    ("/boom", "GET", 500, "服务器内部错误"),
]


@pytest.mark.parametrize(("path", "method", "status", "title"), CASES)
def test_an_error_page_keeps_the_readers_navigation(
    app_client: httpx.Client, path: str, method: str, status: int, title: str
) -> None:
    log_in(app_client, "li" if status == 403 else "cert")
    # uvicorn closes the connection after an exception (a browser opens another): not reused
    fresh = {"connection": "close"} if status == 500 else {}
    page = app_client.request(method, path, headers=fresh)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert NAV in page.text  # the navigation: the reader is still logged in
    assert 'id="logout"' in page.text
    assert title in page.text
    text = visible(page)
    assert not english_words(text), english_words(text)
    english = app_client.request(method, path + ("&" if "?" in path else "?") + "lang=en", headers=fresh)
    assert english.status_code == status
    assert NAV in english.text
    people = re.sub("中文|王审核|李合规", "", visible(english))  # the switch back, the display names
    assert not re.search(r"[\u4e00-\u9fff]", people), people
    if status == 500:  # answered past the middleware: the headers set by the handler itself
        assert page.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert "a bug" not in page.text


def test_a_bad_period_says_why_in_the_readers_language(app_client: httpx.Client) -> None:
    log_in(app_client, "cert")
    assert "周期“2026-13”不是 YYYY-MM 格式的月份" in app_client.get("/?period=2026-13").text
    assert "period &#39;2026-13&#39; is not a month" in app_client.get("/?period=2026-13&lang=en").text


def test_the_api_keeps_json_and_a_logged_out_reader_no_navigation(app_client: httpx.Client) -> None:
    log_in(app_client, "cert")
    assert app_client.get("/api/violations/no-such-id").json() == {"detail": "not_found"}
    assert app_client.get("/api/boom", headers={"connection": "close"}).status_code == 500
    app_client.cookies.clear()
    page = app_client.get("/nowhere")
    assert page.status_code == 404
    assert NAV not in page.text
    assert "未找到，或无权查看" in page.text


def test_the_login_limit_is_the_login_page_in_chinese(app_client: httpx.Client) -> None:
    for _ in range(6):
        form = app_client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        assert app_client.cookies.get(LOGIN_COOKIE)
        answer = app_client.post(
            "/login", data={"username": "cert", "password": "wrong", "csrf_token": token.group(1)}
        )
    assert answer.status_code == 429
    assert "登录失败次数过多，请稍后再试" in answer.text
    assert 'id="login-form"' in answer.text
    assert not english_words(visible(answer))


def test_a_body_past_the_limit_from_a_page_is_an_error_page(app_client: httpx.Client) -> None:
    log_in(app_client, "cert")
    token = re.search(r'name="csrf_token" value="([^"]+)"', app_client.get("/account").text)
    assert token
    big = {"decision": "confirm", "reason": "x" * (2 << 20), "csrf_token": token.group(1)}
    page = app_client.post("/violations/any/review", data=big)
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    assert NAV in page.text
    assert "上传内容过大" in page.text
    assert "console_max_body_bytes" in page.text  # which setting to raise
    api = app_client.post(
        "/api/violations", content=b"x" * (2 << 20), headers={"x-csrf-token": token.group(1)}
    )
    assert api.status_code == 413
    assert "console_max_body_bytes" in api.json()["detail"]
