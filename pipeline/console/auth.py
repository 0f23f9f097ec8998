"""Logins, sessions and CSRF protection.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the warehouse keeps only its
SHA-256 with the user, a per-session CSRF token and the expiry. Every state-changing request
(POST) must carry that CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); the login
form itself is protected by a double-submit cookie. Failed logins are rate-limited per user name
and per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.console.context import page, state
from pipeline.console.users import User, authenticate, get_user
from pipeline.reporting.audit import record
from pipeline.warehouse import Store

SESSION_COOKIE = "cw_session"
LOGIN_COOKIE = "cw_login_csrf"
CSRF_HEADER = "x-csrf-token"

router = APIRouter()


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login, the API answers 401."""


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Store, username: str, hours: float) -> tuple[str, str]:
    """A new session for ``username``: (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    row = {
        "token_hash": _hash(token),
        "username": username,
        "csrf_token": csrf,
        "created_at": now,
        "expires_at": now + timedelta(hours=hours),
        "revoked": 0,
        "updated_at": now,
    }
    store.insert("sessions", [row])
    return token, csrf


def session_user(store: Store, token: str) -> tuple[User, str] | None:
    """The enabled user of a live session, with its CSRF token."""
    rows = store.query(
        "SELECT username, csrf_token, expires_at, max(revoked) AS revoked FROM sessions FINAL "
        "WHERE token_hash = %(h)s GROUP BY username, csrf_token, expires_at",
        {"h": _hash(token)},
    )
    if not rows or rows[0]["revoked"] or rows[0]["expires_at"] <= datetime.now(UTC):
        return None
    user = get_user(store, rows[0]["username"])
    return None if user is None or user.disabled else (user, rows[0]["csrf_token"])


def revoke_session(store: Store, token: str) -> None:
    rows = store.query(
        "SELECT username, csrf_token, created_at, expires_at FROM sessions FINAL WHERE token_hash = %(h)s",
        {"h": _hash(token)},
    )
    if rows:
        row = {**rows[0], "token_hash": _hash(token), "revoked": 1, "updated_at": datetime.now(UTC)}
        store.insert("sessions", [row])


async def current_user(request: Request) -> User:
    """The logged-in user (dependency of every page but the login)."""
    token = request.cookies.get(SESSION_COOKIE)
    found = session_user(state(request).store, token) if token else None
    if found is None:
        raise NotLoggedIn()
    request.state.csrf = found[1]
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
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/login")
async def login(
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
    keys = (f"user:{username.lower()}", f"ip:{request.client.host if request.client else '?'}")
    if console.limiter.blocked(*keys):
        return _login_error(request, "rate_limited", 429, next)
    user = authenticate(console.store, username, password)
    if user is None:
        console.limiter.fail(*keys)
        record(console.store, username[:64], "login.failed", username[:64], client=keys[1])
        return _login_error(request, "login_failed", 401, next)
    console.limiter.succeed(keys[0])
    token, _ = create_session(console.store, user.username, console.settings.console_session_hours)
    record(console.store, user.username, "login", user.username, user.mcn_id)
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


def _login_error(request: Request, message: str, status: int, next: str) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", None, status, error=message, login_csrf=token, next=_safe_next(next)
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, user: CheckedUser) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    revoke_session(state(request).store, token)
    record(state(request).store, user.username, "logout", user.username, user.mcn_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
