"""Account pages: the certifier's administration (``/accounts``: add, role, reset, disable) and
every user's own password change (``/account``). The operations are those of the CLI
(:mod:`pipeline.console.admin`), audited under the certifier's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.console.admin import administer
from pipeline.console.auth import SESSION_COOKIE, CheckedUser, CurrentUser
from pipeline.console.context import page, state
from pipeline.console.sessions import token_hash
from pipeline.console.users import ROLES, User, UserError, change_password, known_mcns, list_users
from pipeline.reporting.audit import record

router = APIRouter()
Field = Annotated[str, Form(max_length=200)]
Secret = Annotated[str, Form(max_length=1000)]


def _certifier(user: User) -> None:
    if user.role != "certifier":
        raise HTTPException(403)


def _accounts_page(request: Request, user: User, status: int = 200, **values: Any) -> Response:
    console = state(request)
    return page(
        request,
        "accounts.html",
        user,
        status,
        accounts=list_users(console.store),
        roles=ROLES,
        mcns=sorted(known_mcns(console.store)),
        min_length=console.settings.console_password_min_length,
        **values,
    )


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request, user: CurrentUser) -> Response:
    _certifier(user)
    return _accounts_page(request, user)


def _run(request: Request, user: User, op: str, **args: str) -> Response:
    _certifier(user)
    console = state(request)
    try:
        done = administer(console.store, console.settings, user.username, op, args)
    except UserError as exc:
        return _accounts_page(request, user, 400, error=str(exc))
    if "password" in done:  # shown once, never stored in clear
        return _accounts_page(request, user, temporary=done["password"], for_user=done["user"]["username"])
    return RedirectResponse("/accounts", status_code=303)


@router.post("/accounts/add")
def add(
    request: Request,
    *,
    user: CheckedUser,
    username: Field,
    role: Field,
    password: Secret,
    mcn_id: Field = "",
    display_name: Field = "",
) -> Response:
    return _run(
        request, user, "add", username=username.strip(), password=password, role=role,
        mcn_id=mcn_id.strip(), display_name=display_name.strip(),
    )  # fmt: skip


@router.post("/accounts/{username}/role")
def role(request: Request, user: CheckedUser, username: str, role: Field, mcn_id: Field = "") -> Response:
    return _run(request, user, "set-role", username=username, role=role, mcn_id=mcn_id.strip())


@router.post("/accounts/{username}/reset")
def reset(request: Request, user: CheckedUser, username: str) -> Response:
    return _run(request, user, "reset-password", username=username)


@router.post("/accounts/{username}/disable")
def disable(request: Request, user: CheckedUser, username: str) -> Response:
    return _run(request, user, "disable", username=username)


@router.post("/accounts/{username}/enable")
def enable(request: Request, user: CheckedUser, username: str) -> Response:
    return _run(request, user, "enable", username=username)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, user: CurrentUser) -> Response:
    return page(request, "account.html", user, min_length=state(request).settings.console_password_min_length)


@router.post("/account/password", response_class=HTMLResponse)
def password(request: Request, user: CheckedUser, current_password: Secret, new_password: Secret) -> Response:
    """Change one's own password; the user's other sessions end, this one stays."""
    console = state(request)
    min_length = console.settings.console_password_min_length
    keep = token_hash(request.cookies.get(SESSION_COOKIE, ""))
    try:
        change_password(
            console.store,
            user.username,
            current_password,
            new_password,
            min_length=min_length,
            keep_session=keep,
        )
    except UserError as exc:
        return page(request, "account.html", user, 400, error=str(exc), min_length=min_length)
    record(console.store, user.username, "user.password_change", user.username, user.mcn_id)
    return page(request, "account.html", user, changed=True, min_length=min_length)
