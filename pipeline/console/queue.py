"""The review queue (``/violations``): the violations an officer works, filtered and sorted on the
server, in keyset pages; bulk review and assignment of the selected rows; the filtered set as CSV.

Every read is scoped (an officer's queue is their own MCN's), every action audited. The query
itself is :mod:`pipeline.reporting.queue` (pure) and :mod:`pipeline.reporting.queue_pages`.
Reviews are written through ``pages.save_review``, one per violation, so the review lifecycle's
checks apply to a bulk review as to one made on a violation's page: a violation whose state does
not allow the action is left as it is and counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from pipeline.console import pages
from pipeline.console.auth import CheckedUser, CurrentUser
from pipeline.console.context import ConsoleState, local_time, page, state
from pipeline.console.i18n import language_of
from pipeline.console.labels import decision_label, kind_label, role_label
from pipeline.console.queue_text import CSV_COLUMNS
from pipeline.console.users import User, get_user, list_users
from pipeline.errors import ClaimWatchError
from pipeline.reporting.audit import record
from pipeline.reporting.casefile import load_cases
from pipeline.reporting.categories import LABELS, Language, label, severity_label
from pipeline.reporting.queue import (
    ASSIGNED,
    KINDS,
    SEVERITIES,
    SORTS,
    STATUSES,
    QueueFilter,
    encode_cursor,
    parse_filters,
)
from pipeline.reporting.queue_pages import assign, every_row, queue_page, violations_in_scope

router = APIRouter()
MAX_BULK = 500
FILTER_FIELDS = (
    "category",
    "severity",
    "status",
    "anchor",
    "stream",
    "kind",
    "q",
    "assigned",
    "from",
    "to",
    "sort",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BulkAction = Literal["confirm", "dismiss", "assign", "release"]


def _filters(console: ConsoleState, params: Any) -> QueueFilter:
    return parse_filters({k: str(v) for k, v in params.items()}, console.settings.timezone)


def assignable(console: ConsoleState, user: User) -> list[User]:
    """Whom ``user`` may assign violations to: a certifier, any active certifier or officer; an
    officer, only themselves; an auditor (read only), nobody."""
    if user.role == "mcn_officer":
        return [user]
    if user.role != "certifier":
        return []
    return [u for u in list_users(console.store) if not u.disabled and u.role in ("certifier", "mcn_officer")]


def _shown_assignee(user: User, accounts: dict[str, User], language: Language) -> Any:
    """An assignee as the reader sees it: the name, except for an officer, who sees a user from
    outside their MCN by role (as the audit log shows them)."""

    def shown(name: str) -> str:
        if not name or user.role != "mcn_officer":
            return name
        account = accounts.get(name)
        if account is not None and account.mcn_id == user.mcn_id and account.role == "mcn_officer":
            return name
        return role_label(account.role if account else "certifier", language)

    return shown


@router.get("/violations", response_class=HTMLResponse)
def queue(request: Request, user: CurrentUser) -> Response:
    console = state(request)
    f = _filters(console, request.query_params)
    result = queue_page(console.store, user.scope, f, console.settings.timezone, user=user.username)
    lang = language_of(request)
    base = f.query_string_items()
    next_url = (
        "/violations?" + urlencode([*base, ("after", encode_cursor(result.next_cursor))])
        if result.next_cursor
        else ""
    )
    targets = assignable(console, user)
    accounts = {u.username: u for u in (list_users(console.store) if user.role == "mcn_officer" else targets)}
    return page(
        request,
        "queue.html",
        user,
        rows=result.rows,
        f=f,
        filter_items=base,
        back=urlencode(base),
        next_url=next_url,
        first_url="/violations?" + urlencode(base) if f.cursor else "",
        categories=sorted(LABELS, key=lambda c: label(c, lang)),
        severities=SEVERITIES,
        statuses=STATUSES,
        kinds=KINDS,
        sorts=SORTS,
        assigned_options=ASSIGNED,
        assignees=targets,
        shown_assignee=_shown_assignee(user, accounts, lang),
        done=_count(request.query_params.get("done")),
        refused=_count(request.query_params.get("refused")),
    )


def _count(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 6 else 0


@router.post("/violations/bulk")
def bulk(
    request: Request,
    user: CheckedUser,
    *,
    action: Annotated[BulkAction, Form()],
    ids: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 (FastAPI copies defaults)
    reason: Annotated[str, Form(max_length=pages.MAX_REASON)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Review (confirm, dismiss) or assign (assign, release) the selected violations; 303 back to
    the queue with how many were done and how many their state refused."""
    console = state(request)
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not wanted:
        raise HTTPException(400, "select at least one violation")
    if len(wanted) > MAX_BULK:
        raise HTTPException(400, f"at most {MAX_BULK} violations at once")
    if action in ("confirm", "dismiss"):
        done, refused = _review_all(console, user, wanted, action, reason)
    else:
        done, refused = _assign_all(console, user, wanted, assignee if action == "assign" else ""), 0
    query = urlencode([*parse_qsl_safe(back), ("done", str(done)), ("refused", str(refused))])
    return RedirectResponse(f"/violations?{query}", status_code=303)


def parse_qsl_safe(back: str) -> list[tuple[str, str]]:
    """The queue's filter from the form's ``back`` field (only the filter's own parameters)."""
    return [(k, v) for k, v in parse_qsl(back) if k in FILTER_FIELDS]


def _review_all(
    console: ConsoleState, user: User, ids: list[str], decision: str, reason: str
) -> tuple[int, int]:
    if not user.can_review:
        raise HTTPException(403)
    if not reason.strip():
        raise HTTPException(400, "a reason is required")
    cases = load_cases(console.store, user.scope, ids, context_s=0.0)
    if len(cases) < len(ids):
        raise HTTPException(404)  # one of them is not there, or not the user's to see
    done = refused = 0
    for event_id in ids:
        try:
            written = pages.save_review(console, user, cases[event_id], decision, reason.strip())
        except ClaimWatchError:  # the review lifecycle refuses this step from the case's state
            refused += 1
            continue
        done += 1 if written is not False else 0
    return done, refused


def _assign_all(console: ConsoleState, user: User, ids: list[str], assignee: str) -> int:
    if user.role not in ("certifier", "mcn_officer"):
        raise HTTPException(403)
    found = violations_in_scope(console.store, user.scope, ids)
    if len(found) < len(ids):
        raise HTTPException(404)
    if assignee:
        if user.role == "mcn_officer" and assignee != user.username:
            raise HTTPException(403)  # an officer takes violations for themselves only
        target = get_user(console.store, assignee)
        if target is None or target.disabled or target.role not in ("certifier", "mcn_officer"):
            raise HTTPException(400, "choose whom to assign them to")
        for mcn_id in sorted(set(found.values())):
            if not target.scope.allows(mcn_id):
                raise HTTPException(400, f"{assignee} cannot work violations of {mcn_id}")
    assign(console.store, [(i, found[i]) for i in ids], assignee, user.username)
    action = "violation.assign" if assignee else "violation.release"
    for event_id in ids:
        details = {"assignee": assignee} if assignee else {}
        record(console.store, user.username, action, event_id, found[event_id], bulk=len(ids), **details)
    return len(ids)


@router.post("/violations/export.csv")
async def export_csv(request: Request, user: CheckedUser) -> Response:
    """The filtered set as CSV (every page of it, streamed as it is read; the cursor is ignored),
    within the user's scope; audited before the first row is sent."""
    console = state(request)
    form = await request.form()
    f = _filters(console, {k: v for k, v in form.items() if k in FILTER_FIELDS}).first_page()
    if not user.can_export:
        raise HTTPException(403)
    lang = language_of(request)
    await run_in_threadpool(
        record,
        console.store,
        user.username,
        "violations.export",
        f.describe() or "all",
        user.mcn_id if user.role == "mcn_officer" else "",
        filters=f.describe(),
    )
    return StreamingResponse(
        _csv_lines(console, user, f, lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="violations.csv"'},
    )


def _csv_lines(console: ConsoleState, user: User, f: QueueFilter, lang: Language) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out)
    accounts = {u.username: u for u in list_users(console.store)}
    shown = _shown_assignee(user, accounts, lang)
    out.write("\ufeff")  # a BOM: spreadsheet programs then read the Chinese as UTF-8
    writer.writerow([header[lang] for _, header in CSV_COLUMNS])
    tz = console.settings.timezone
    for n, row in enumerate(every_row(console.store, user.scope, f, tz, user=user.username)):
        writer.writerow([_cell(key, row, lang, tz, shown) for key, _ in CSV_COLUMNS])
        if n % 500 == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def _cell(key: str, row: dict[str, Any], lang: Language, tz: str, shown: Any) -> str:
    value = row.get(key)
    named: dict[str, Callable[[], str]] = {
        "ts": lambda: local_time(value, tz),
        "kind": lambda: kind_label(str(value), lang),
        "category": lambda: label(str(value), lang),
        "severity": lambda: severity_label(str(value), lang),
        "decision": lambda: decision_label(value, lang),
        "assignee": lambda: str(shown(str(value or ""))),
    }
    if key in named:
        return named[key]()
    text = "" if value is None else str(value)
    # a cell a spreadsheet would run as a formula is kept as text (what was said is data)
    return "'" + text if text[:1] in FORMULA_STARTS else text
