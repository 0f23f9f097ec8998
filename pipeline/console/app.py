"""The console application: routers, error handling and security headers."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline import __version__
from pipeline.config import Settings
from pipeline.console import api, auth, exports, live, pages
from pipeline.console.context import HERE, ConsoleState, page
from pipeline.console.ratelimit import LoginLimiter
from pipeline.scope import ScopeError
from pipeline.scoring_rules import load_rules
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
ROUTERS = (auth.router, pages.router, live.router, exports.router, api.router)


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI, so streaming responses keep streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create_app(settings: Settings, store: Store) -> FastAPI:
    """The console for an open, migrated store."""
    app = FastAPI(
        title="ClaimWatch console", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.console = ConsoleState(
        settings=settings,
        store=store,
        rules=load_rules(settings.scoring_file),
        limiter=LoginLimiter(settings.console_login_attempts, settings.console_login_window_s),
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _handle_errors(app)
    app.add_middleware(SecurityHeaders)
    return app


def _machine(request: Request) -> bool:
    return request.url.path.startswith(_MACHINE_PATHS)


def _error(request: Request, status: int, key: str, detail: str = "") -> Response:
    if _machine(request):
        return JSONResponse({"detail": detail or key}, status_code=status)
    return page(request, "error.html", None, status, message=key, detail=detail)


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(auth.NotLoggedIn)
    async def not_logged_in(request: Request, exc: auth.NotLoggedIn) -> Response:
        if _machine(request) or request.method != "GET":
            return JSONResponse({"detail": "login required"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(auth.CsrfFailed)
    async def csrf_failed(request: Request, exc: auth.CsrfFailed) -> Response:
        return _error(request, 403, "forbidden", "missing or wrong CSRF token")

    @app.exception_handler(ScopeError)
    async def bad_scope(request: Request, exc: ScopeError) -> Response:
        return _error(request, 400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 400, "bad_request", "invalid parameters")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {403: "forbidden", 404: "not_found"}.get(exc.status_code, "bad_request")
        return _error(
            request, exc.status_code, key, str(exc.detail) if exc.status_code not in (403, 404) else ""
        )
