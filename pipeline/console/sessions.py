"""Console sessions as rows of the warehouse table ``sessions``: create, find, touch, end.

A session is a random token in the user's cookie; the table keeps only its SHA-256, the user, a
per-session CSRF token, its start and expiry, and a row per change. Rows are never updated: a
request that finds its session stale writes a newer row (``updated_at`` is when the session was
last used, which the idle timeout reads), and ending one writes a row with ``revoked = 1``. A
session is read over all its rows (``max(revoked)``, ``max(updated_at)``), not with FINAL, so a
late "touch" can never bring an ended session back; the revoking row's version lies past the
session's expiry so that it is also the row a merge keeps.

Every change that can end a session's use (a session ended here, an account row written by
:mod:`pipeline.console.users`) moves this process's :func:`changes` counter, after its row is
written; the console's kept session checks (``pipeline.console.auth.SessionCache``) are valid
only while that counter has not moved since they were read.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.warehouse import Store

USER_COLUMNS = "display_name, role, mcn_id, disabled"  # of users, beside a session (no common names)
TOUCH_EVERY_S = 60.0  # at most one write per session per minute (less with a short idle timeout)
_CHANGES_LOCK = threading.Lock()
_CHANGES = [0]  # session endings and account changes written by this process


def changes() -> int:
    """How many session endings and account changes this process has written so far."""
    return _CHANGES[0]


def note_change() -> None:
    """A session ended or an account changed (called once its row is written)."""
    with _CHANGES_LOCK:
        _CHANGES[0] += 1


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    username: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    seen_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Store, username: str, hours: float) -> tuple[str, str]:
    """A new session for ``username``: (cookie token, CSRF token)."""
    token, session = open_session(store, username, hours)
    return token, session.csrf_token


def open_session(store: Store, username: str, hours: float) -> tuple[str, Session]:
    """A new session for ``username``: (cookie token, the session as written)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    session = Session(token_hash(token), username, csrf, now, now + timedelta(hours=hours), now)
    _write(store, session)
    return token, session


def find_session_of_user(store: Store, token: str, idle_s: float) -> tuple[Session, dict[str, Any]] | None:
    """The live session of this token (not ended, not expired, used within ``idle_s``) and its
    user's row of ``users`` (``USER_COLUMNS``, read with FINAL), in one query: the console's
    check of every request. A session whose user has no row gets empty strings and zeros
    (``role`` is then empty). A use is written down at most every ``TOUCH_EVERY_S`` (a quarter
    of ``idle_s`` if that is less)."""
    rows = store.query(
        f"SELECT token_hash, username, csrf_token, created_at, expires_at, revoked, seen_at, {USER_COLUMNS} "
        f"FROM ({_SESSION_SQL.format(where='token_hash = %(h)s')}) AS s ANY LEFT JOIN "
        f"(SELECT username, {USER_COLUMNS} FROM users FINAL "
        "WHERE username IN (SELECT username FROM sessions WHERE token_hash = %(h)s)) AS u USING username",
        {"h": token_hash(token)},
    )
    live = [(s, r) for r in rows if not r["revoked"] and _live(s := _session(r), idle_s)]
    if not live:
        return None
    session, row = live[0]
    if touch_due(session, idle_s):
        _write(store, Session(**{**_fields(session), "seen_at": datetime.now(UTC)}))
    return session, {name: row[name] for name in ("username", *USER_COLUMNS.split(", "))}


def touch_due(session: Session, idle_s: float) -> bool:
    """Whether a use of the session now is to be written down (its last is that long ago)."""
    return (datetime.now(UTC) - session.seen_at).total_seconds() >= min(TOUCH_EVERY_S, idle_s / 4)


def live_sessions(store: Store, username: str, idle_s: float) -> list[Session]:
    """The user's live sessions, oldest first."""
    rows = _rows(store, "username = %(u)s", {"u": username})
    return sorted((s for s in rows if _live(s, idle_s)), key=lambda s: (s.created_at, s.token_hash))


def end_session(store: Store, session: Session) -> None:
    _write(store, session, revoked=True)


def end_token(store: Store, token: str) -> None:
    """End the session of this cookie token, live or not."""
    for session in _rows(store, "token_hash = %(h)s", {"h": token_hash(token)}):
        end_session(store, session)


def end_sessions_of(store: Store, username: str, *, keep: str | None = None) -> int:
    """End every live session of ``username`` (but the one whose hash is ``keep``); returns how many."""
    ended = 0
    for session in _rows(store, "username = %(u)s", {"u": username}):
        if session.token_hash != keep and session.expires_at > datetime.now(UTC):
            end_session(store, session)
            ended += 1
    return ended


def is_live(session: Session, idle_s: float) -> bool:
    """Not expired, and used within ``idle_s`` (as far as this copy of the session knows)."""
    return _live(session, idle_s)


def _live(session: Session, idle_s: float) -> bool:
    now = datetime.now(UTC)
    return session.expires_at > now and (now - session.seen_at).total_seconds() < idle_s


_SESSION_SQL = (
    "SELECT token_hash, username, csrf_token, created_at, expires_at, max(revoked) AS revoked, "
    "max(updated_at) AS seen_at FROM sessions WHERE {where} "
    "GROUP BY token_hash, username, csrf_token, created_at, expires_at"
)


def _rows(store: Store, where: str, params: dict[str, Any]) -> list[Session]:
    rows = store.query(_SESSION_SQL.format(where=where), params)
    return [_session(r) for r in rows if not r["revoked"]]


def _session(r: dict[str, Any]) -> Session:
    return Session(
        r["token_hash"], r["username"], r["csrf_token"], r["created_at"], r["expires_at"], r["seen_at"]
    )


def _fields(session: Session) -> dict[str, Any]:
    return {name: getattr(session, name) for name in Session.__slots__}


def _write(store: Store, session: Session, *, revoked: bool = False) -> None:
    # An ending's version lies past the expiry, so no use recorded later can outrank it.
    version = max(session.expires_at, datetime.now(UTC)) + timedelta(days=1) if revoked else session.seen_at
    store.insert(
        "sessions",
        [
            {
                "token_hash": session.token_hash,
                "username": session.username,
                "csrf_token": session.csrf_token,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
                "revoked": int(revoked),
                "updated_at": version,
            }
        ],
    )
    if revoked:
        note_change()
