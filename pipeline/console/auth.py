"""Logins, sessions and CSRF protection.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the warehouse keeps only its
SHA-256 with the user, a per-session CSRF token, the expiry and when it was last used
(:mod:`pipeline.console.sessions`). A session unused for ``console_session_idle_s`` ends, and a
user holds at most ``console_max_sessions`` at once (a new login ends the oldest). Every
state-changing request (POST) must carry that CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); the login form itself is protected by a double-submit cookie. Failed logins
are rate-limited per (user name, client address) and per client address
(:mod:`pipeline.console.ratelimit`); refusals are audited at a bounded rate.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.console.context import page, state
from pipeline.console.ratelimit import client_address
from pipeline.console.sessions import create_session, end_session, end_token, find_session, live_sessions
from pipeline.console.users import User, authenticate, get_user
from pipeline.reporting.audit import record
from pipeline.warehouse import Store

__all__ = ["create_session", "revoke_session", "session_user"]

SESSION_COOKIE = "cw_session"
LOGIN_COOKIE = "cw_login_csrf"
CSRF_HEADER = "x-csrf-token"
DEFAULT_IDLE_S = 1800.0

router = APIRouter()


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login, the API answers 401."""


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


def session_user(store: Store, token: str, idle_s: float = DEFAULT_IDLE_S) -> tuple[User, str] | None:
    """The enabled user of a live session, with its CSRF token."""
    session = find_session(store, token, idle_s)
    if session is None:
        return None
    user = get_user(store, session.username)
    return None if user is None or user.disabled else (user, session.csrf_token)


def revoke_session(store: Store, token: str) -> None:
    end_token(store, token)


def client_of(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded."""
    console = state(request)
    peer = request.client.host if request.client else "?"
    return client_address(peer, request.headers.getlist("x-forwarded-for"), console.trusted_proxies)


def current_user(request: Request) -> User:
    """The logged-in user (dependency of every page but the login)."""
    console = state(request)
    token = request.cookies.get(SESSION_COOKIE)
    found = session_user(console.store, token, console.settings.console_session_idle_s) if token else None
    if found is None:
        raise NotLoggedIn()
    request.state.csrf = found[1]
    request.state.user = found[0]  # for the audit of refusals (app.AuditRefusals)
    return found[0]


async def checked_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """The logged-in user of a state-changing request that carries the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), request.state.csrf.encode()):
        raise CsrfFailed()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
CheckedUser = Annotated[User, Depends(checked_user)]


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect to another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, login_csrf=token, next=_safe_next(next))
    secure = state(request).settings.console_cookie_secure  # Secure like the session cookie
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login", secure=secure)
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    console = state(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise CsrfFailed()
    address, name = client_of(request), username[:64]
    if console.limiter.blocked(username, address):
        console.audit(name, "login.throttled", name, client=address)
        return _login_error(request, "rate_limited", 429, next)
    user = authenticate(console.store, username, password)
    if user is None:
        console.limiter.fail(username, address)
        console.audit(name, "login.failed", name, client=address)
        return _login_error(request, "login_failed", 401, next)
    console.limiter.succeed(username, address)
    _make_room(request, user)
    token, _ = create_session(console.store, user.username, console.settings.console_session_hours)
    record(console.store, user.username, "login", user.username, user.mcn_id, client=address)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=console.settings.console_cookie_secure,
        max_age=int(console.settings.console_session_hours * 3600),
    )
    return response


def _make_room(request: Request, user: User) -> None:
    """End the user's oldest sessions so that a new one stays within ``console_max_sessions``."""
    console = state(request)
    live = live_sessions(console.store, user.username, console.settings.console_session_idle_s)
    for session in live[: max(0, len(live) - console.settings.console_max_sessions + 1)]:
        end_session(console.store, session)
        record(console.store, user.username, "session.evicted", user.username, user.mcn_id)


def _login_error(request: Request, message: str, status: int, next: str) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", None, status, error=message, login_csrf=token, next=_safe_next(next)
    )
    secure = state(request).settings.console_cookie_secure  # Secure like the session cookie
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login", secure=secure)
    return response


@router.post("/logout")
def logout(request: Request, user: CheckedUser) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    revoke_session(state(request).store, token)
    record(state(request).store, user.username, "logout", user.username, user.mcn_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
