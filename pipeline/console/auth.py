"""Logins, sessions and CSRF protection.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the warehouse keeps only its
SHA-256 with the user, a per-session CSRF token, the expiry and when it was last used
(:mod:`pipeline.console.sessions`). A session unused for ``console_session_idle_s`` ends, and a
user holds at most ``console_max_sessions`` at once (a new login ends the oldest). Every
state-changing request (POST) must carry that CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); the login form itself is protected by a double-submit cookie. Failed logins
are rate-limited per (user name, client address) and per client address
(:mod:`pipeline.console.ratelimit`); refusals are audited at a bounded rate.

On an embedded warehouse, which only this process can open, a checked session (the session and
its user) is kept in memory for ``console_session_cache_s``
(:class:`pipeline.console.cache.SessionCache`): every change that could refuse it (a logout, an
eviction, a disabled account, a new password or role) is written by this process, moves
:func:`pipeline.console.sessions.changes`, and so drops every kept check at once. On a server
warehouse another process (`claimwatch users disable`, a second console) may make that change,
so the check always reads the warehouse.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.console.cache import SessionCache
from pipeline.console.context import page, state
from pipeline.console.ratelimit import client_address
from pipeline.console.sessions import (
    changes,
    create_session,
    end_session,
    end_token,
    find_session_of_user,
    live_sessions,
    open_session,
    token_hash,
)
from pipeline.console.users import User, authenticate, user_of
from pipeline.reporting.audit import record
from pipeline.warehouse import Store

__all__ = ["SessionCache", "create_session", "revoke_session", "session_user"]

SESSION_COOKIE = "cw_session"
LOGIN_COOKIE = "cw_login_csrf"
CSRF_HEADER = "x-csrf-token"
DEFAULT_IDLE_S = 1800.0

router = APIRouter()


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login, the API answers 401."""


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


def kept_user(cache: SessionCache | None, token: str, idle_s: float) -> tuple[User, str] | None:
    """The kept check of this session, if there is one still valid (no store, no waiting)."""
    kept = cache.get(token_hash(token), idle_s) if cache is not None else None
    return None if kept is None else (kept[1], kept[0].csrf_token)


def session_user(
    store: Store, token: str, idle_s: float = DEFAULT_IDLE_S, cache: SessionCache | None = None
) -> tuple[User, str] | None:
    """The enabled user of a live session, with its CSRF token (``cache``: kept checks first)."""
    if (found := kept_user(cache, token, idle_s)) is not None:
        return found
    key = token_hash(token)
    generation = changes()  # before reading: a change written meanwhile makes this check stale
    checked = find_session_of_user(store, token, idle_s)  # one query: the session and its user
    if checked is None or not checked[1]["role"]:
        return None
    session, user = checked[0], user_of(checked[1])
    if user.disabled:
        return None
    if cache is not None:
        cache.put(key, generation, session, user)
    return user, session.csrf_token


def revoke_session(store: Store, token: str) -> None:
    end_token(store, token)


def client_of(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded."""
    console = state(request)
    peer = request.client.host if request.client else "?"
    return client_address(peer, request.headers.getlist("x-forwarded-for"), console.trusted_proxies)


async def current_user(request: Request) -> User:
    """The logged-in user (dependency of every page but the login): a kept check is answered on
    the event loop (a dictionary look-up), a check of the warehouse on a thread."""
    console = state(request)
    token = request.cookies.get(SESSION_COOKIE)
    idle_s = console.settings.console_session_idle_s
    found = kept_user(console.session_checks, token, idle_s) if token else None
    if found is None and token:
        found = await anyio.to_thread.run_sync(
            session_user, console.store, token, idle_s, console.session_checks
        )
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
    generation = changes()  # before the user is read: a change after it makes the kept check stale
    user = authenticate(console.store, username, password)
    if user is None:
        console.limiter.fail(username, address)
        console.audit(name, "login.failed", name, client=address)
        return _login_error(request, "login_failed", 401, next)
    console.limiter.succeed(username, address)
    _make_room(request, user)
    token, session = open_session(console.store, user.username, console.settings.console_session_hours)
    if console.session_checks is not None:  # the page the login redirects to needs no check
        console.session_checks.put(token_hash(token), generation, session, user)
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
