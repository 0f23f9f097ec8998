"""Helpers for the console tests: a real uvicorn server in a thread, and logged-in HTTP clients."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from pipeline.config import Settings
from pipeline.console import create_app
from pipeline.stream.broker import free_port
from pipeline.warehouse import Store

PASSWORD = "correct horse battery"


@contextmanager
def running_console(settings: Settings, store: Store) -> Iterator[str]:
    """Serve the console for ``store`` on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, store),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,  # as `claimwatch serve`: the console itself decides whom to believe
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def login_token(client: httpx.Client) -> str:
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def log_in(base_url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    """A client holding a session of ``username``."""
    client = httpx.Client(base_url=base_url, timeout=30)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": login_token(client), "next": "/"},
    )
    assert response.status_code == 303, response.text[:500]
    return client


def csrf_of(client: httpx.Client) -> str:
    """The session's CSRF token, read off a page's logout form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/audit").text)
    assert match
    return match.group(1)
