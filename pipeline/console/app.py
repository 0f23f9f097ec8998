"""The console application: routers, error handling and security headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline import __version__
from pipeline.config import Settings
from pipeline.console import accounts, api, auth, cards, exports, live, pages, queue
from pipeline.console.context import HERE, ConsoleState, page
from pipeline.console.users import User
from pipeline.reporting.scope import ScopeError
from pipeline.reporting.scoring_rules import load_rules
from pipeline.warehouse import Store

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
_MACHINE_PATHS = ("/api/", "/live/events")
UPLOAD_PATHS = ("/evidence/verify",)  # bodies up to console_max_upload_bytes (a whole bundle)
ATTACHING = re.compile(r"^/violations/[^/]+/review$")  # a review with an attachment: bodies up to
# console_max_attachment_bytes and the form around it (the attachment's own limit is checked after)
FORM_ALLOWANCE = 64 << 10
ROUTERS = (
    auth.router, queue.router, pages.router, live.router, exports.router, api.router, accounts.router,
    cards.router,
)  # fmt: skip
_REFUSALS = {403: "access.forbidden", 404: "access.not_found"}
_FILENAME = re.compile(rb'filename="([^"\r\n]{0,200})"')


_CACHEABLE_PATHS = ("/static/",)


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI, so streaming responses keep streaming),
    and ``Cache-Control: no-store`` to all but the static files: pages, the API, clips and bundles
    are evidence of one reader's scope and must not outlive the session in a browser or proxy cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not scope["path"].startswith(_CACHEABLE_PATHS):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


@dataclass(slots=True)
class _Seen:
    """What AuditRefusals saw of one request."""

    status: int = 0
    bytes: int = 0
    name: str = ""


class AuditRefusals:
    """Writes to the audit log what a logged-in user was refused (403, 404) and every bundle
    uploaded for verification (who, its name, size and the answer), at the console's audit rate
    (pure ASGI: it counts the body as it passes and writes the entry as the answer starts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"] in UPLOAD_PATHS and scope["method"] == "POST"
        seen = _Seen()

        async def counted() -> Message:
            message = await receive()
            body: bytes = message.get("body", b"")
            if upload and not seen.name and (found := _FILENAME.search(body[:8192])):
                seen.name = found.group(1).decode("utf-8", "replace")
            seen.bytes += len(body)
            return message

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
                # written before the client has its answer, off the event loop (the store may be
                # busy); most answers write nothing and need no thread
                if _audited(scope, seen, upload):
                    await anyio.to_thread.run_sync(_audit_request, scope, seen, upload)
            await send(message)

        await self.app(scope, counted, watched)


def _audited(scope: Scope, seen: _Seen, upload: bool) -> bool:
    """Whether this answer is one to audit: a logged-in user's refusal or bundle upload."""
    return scope.get("state", {}).get("user") is not None and (upload or seen.status in _REFUSALS)


def _audit_request(scope: Scope, seen: _Seen, upload: bool) -> None:
    if not _audited(scope, seen, upload):
        return
    user = scope["state"]["user"]
    console: ConsoleState = scope["app"].state.console
    if upload:
        action, target = "evidence.verify", seen.name or scope["path"]
    else:
        action, target = _REFUSALS[seen.status], scope["path"]
    console.audit(user.username, action, target, method=scope["method"], status=seen.status, bytes=seen.bytes)


def _attaching(scope: Scope) -> bool:
    """A multipart review form, which may carry an attachment (a plain form keeps the body limit)."""
    kind = dict(scope["headers"]).get(b"content-type", b"")
    return bool(ATTACHING.match(scope["path"])) and kind.startswith(b"multipart/form-data")


class BodyTooLarge(Exception):
    """A request body past the console's limit (raised while the app reads it)."""


class BodyLimit:
    """Refuses request bodies over ``max_body`` bytes (``max_upload`` for the bundle upload) with
    413, by their Content-Length or, without one, as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int, max_attachment: int = 0) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.max_attachment = max_attachment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in UPLOAD_PATHS:
            limit, name = self.max_upload, "console_max_upload_bytes"
        elif _attaching(scope) and self.max_attachment + FORM_ALLOWANCE > self.max_body:
            limit, name = self.max_attachment + FORM_ALLOWANCE, "console_max_attachment_bytes"
        else:
            limit, name = self.max_body, "console_max_body_bytes"
        detail = f"request body larger than {limit} bytes ({name})"

        async def refusal(scope: Scope, receive: Receive, send: Send) -> None:
            # JSON for the API, else the error page (a form or an upload sent from a page)
            answer = await _error(Request(scope), 413, "too_large", detail)
            await answer(scope, receive, send)

        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await refusal(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            # Past the limit: answer 413 now and fail the read; whatever the app then makes of the
            # failure (FastAPI answers a body it cannot parse with 400) is not sent.
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                if not started and not refused:
                    refused = True
                    await refusal(scope, receive, send)
                raise BodyTooLarge()
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if not refused:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not refused:
                raise


def create_app(settings: Settings, store: Store) -> FastAPI:
    """The console for an open, migrated store."""
    app = FastAPI(
        title="ClaimWatch console", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.console = ConsoleState.create(settings, store, load_rules(settings.scoring_file))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _handle_errors(app)
    app.add_middleware(AuditRefusals)
    app.add_middleware(
        BodyLimit,
        max_body=settings.console_max_body_bytes,
        max_upload=settings.console_max_upload_bytes,
        max_attachment=settings.console_max_attachment_bytes,
    )
    app.add_middleware(SecurityHeaders)
    return app


def _machine(request: Request) -> bool:
    return request.url.path.startswith(_MACHINE_PATHS)


async def _reader(request: Request) -> User | None:
    """Who reads an error page, so that it keeps their navigation: the user a page's dependency
    found already, else the session's (looked up off the event loop), else None. The user is not
    put on the request's state: which refusals are audited stays as it was."""
    found: User | None = getattr(request.state, "user", None)
    token = request.cookies.get(auth.SESSION_COOKIE)
    if found is not None or not token:
        return found
    console: ConsoleState = request.app.state.console
    idle_s = console.settings.console_session_idle_s
    checked = await anyio.to_thread.run_sync(
        auth.session_user, console.store, token, idle_s, console.session_checks
    )
    if checked is None:
        return None
    request.state.csrf = checked[1]  # the navigation's logout form
    return checked[0]


async def _error(request: Request, status: int, key: str, detail: str = "") -> Response:
    """A refusal: JSON for the API and the live feed, else the error page inside the layout."""
    if _machine(request):
        return JSONResponse({"detail": detail or key}, status_code=status)
    user = await _reader(request)
    return page(request, "error.html", user, status, message=key, detail=detail, status=status)


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(auth.NotLoggedIn)
    async def not_logged_in(request: Request, exc: auth.NotLoggedIn) -> Response:
        if _machine(request) or request.method != "GET":
            return JSONResponse({"detail": "login required"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(auth.CsrfFailed)
    async def csrf_failed(request: Request, exc: auth.CsrfFailed) -> Response:
        return await _error(request, 403, "forbidden", "missing or wrong CSRF token")

    @app.exception_handler(ScopeError)
    async def bad_scope(request: Request, exc: ScopeError) -> Response:
        return await _error(request, 400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return await _error(request, 400, "bad_request", "invalid parameters")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {403: "forbidden", 404: "not_found", 409: "conflict"}.get(exc.status_code, "bad_request")
        return await _error(
            request, exc.status_code, key, str(exc.detail) if exc.status_code not in (403, 404) else ""
        )

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Answered by Starlette's outermost middleware, past SecurityHeaders: the headers are set
        # here. The exception itself is still raised (and logged) after this answer.
        response = await _error(request, 500, "server_error")
        response.headers.update({**SECURITY_HEADERS, "cache-control": "no-store"})
        return response
