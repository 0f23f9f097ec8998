"""What every request handler needs: the settings, the store, the rules and page rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from pipeline.config import Settings
from pipeline.console.background import Background
from pipeline.console.cache import SessionCache, TtlCache
from pipeline.console.i18n import LANG_COOKIE, language_of, translator
from pipeline.console.labels import labellers
from pipeline.console.ratelimit import LoginLimiter, Network, parse_networks
from pipeline.console.users import User
from pipeline.reporting.audit import AuditLimiter, record_limited
from pipeline.reporting.categories import label, severity_label, violation_label
from pipeline.reporting.scope import Period
from pipeline.reporting.scoring import explain
from pipeline.reporting.scoring_rules import ScoringRules
from pipeline.warehouse import Store

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))


@dataclass(slots=True)
class ConsoleState:
    settings: Settings
    store: Store
    rules: ScoringRules
    limiter: LoginLimiter
    audit_limiter: AuditLimiter
    trusted_proxies: tuple[Network, ...] = ()
    overviews: TtlCache[Any, Any] = field(default_factory=lambda: TtlCache(0.0))
    """The overview's computed data per (scope, month): pages.overview_data, dropped on a review."""
    cases: TtlCache[Any, Any] = field(default_factory=lambda: TtlCache(0.0))
    """Violation cases per (scope, event id): pages.scoped_case, dropped on a review."""
    session_checks: SessionCache | None = None
    """Checked sessions (auth.session_user), only on a warehouse no other process writes."""
    exporter: Background = field(default_factory=lambda: Background(1))
    """Builds evidence bundles (exports.export): a few threads at a lower priority."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def create(cls, settings: Settings, store: Store, rules: ScoringRules) -> ConsoleState:
        return cls(
            settings=settings,
            store=store,
            rules=rules,
            limiter=LoginLimiter(settings.console_login_attempts, settings.console_login_window_s),
            audit_limiter=AuditLimiter(settings.console_audit_refusals_per_min),
            trusted_proxies=parse_networks(settings.console_trusted_proxies),
            overviews=TtlCache(settings.console_overview_cache_s),
            cases=TtlCache(settings.console_overview_cache_s),
            exporter=Background(settings.console_exports_at_once),
            # Embedded: this process alone opens the warehouse, so every change that could end a
            # session passes here and drops the kept checks. A server warehouse: always read it.
            session_checks=(
                SessionCache(settings.console_session_cache_s) if store.kind == "embedded" else None
            ),
        )

    def audit(self, actor: str, action: str, target: str, **details: Any) -> None:
        """Record a refusal at a bounded rate, seen only by readers of every MCN."""
        record_limited(self.store, self.audit_limiter, actor, action, target, **details)


def state(request: Request) -> ConsoleState:
    console: ConsoleState = request.app.state.console
    return console


def local_time(value: datetime | None, timezone: str) -> str:
    return "" if value is None else value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def page(
    request: Request, template: str, user: User | None, status_code: int = 200, **values: Any
) -> HTMLResponse:
    """Render a page in the reader's language (and remember an explicit ``?lang=``)."""
    console = state(request)
    lang = language_of(request)
    context = {
        "user": user,
        "lang": lang,
        "t": translator(lang),
        "label": lambda c: label(c, lang),
        "violation_label": lambda v: violation_label(v["category"], v.get("off_card"), lang),
        "severity_label": lambda s: severity_label(s, lang),
        "local": lambda v: local_time(v, console.settings.timezone),
        "explain": lambda s: explain(s, console.rules, lang),
        **labellers(lang, console.settings.timezone),
        "timezone": console.settings.timezone,
        "csrf": getattr(request.state, "csrf", ""),
        "path": request.url.path,
        **values,
    }
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, samesite="strict", httponly=True)
    return response


def period_of(request: Request, text: str | None, default: Period) -> Period:
    """The ``period`` parameter, or ``default``; a malformed one is a 400 (ScopeError)."""
    if not text:
        return default
    return Period.parse(text, state(request).settings.timezone)
