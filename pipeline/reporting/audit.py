"""The audit log: who reviewed, exported or administered what, who was refused what, and when.

Append-only: ClaimWatch only ever inserts into ``audit_log`` (a plain MergeTree, so no row is
ever folded away), and nothing in the code updates or deletes from it.

Refusals (failed and throttled logins, 403s, 404s, uploads) are written through an
:class:`AuditLimiter`, so that someone sending thousands of them cannot flood the log: per actor
and action at most ``per_minute`` entries a minute (ten times that per action for all actors
together); the next entry written after a pause says how many were left out (``suppressed``).
They carry no MCN (``mcn_id = ''``), so only readers of every MCN see them: a probe of another
MCN's ids must not tell that MCN's officer who probed, nor the prober what exists.

An officer reads the entries of their own MCN; whoever acted on it from outside the MCN (the
certifier who reviewed, the auditor who exported) is shown by role, not by user name, so the log
is no list of user names to aim a password guess at.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipeline.reporting.scope import Scope, scoped_query
from pipeline.warehouse import Store


def record(store: Store, actor: str, action: str, target: str, mcn_id: str = "", **details: Any) -> str:
    """Append one entry; returns its id."""
    entry_id = secrets.token_hex(16)
    store.insert(
        "audit_log",
        [
            {
                "entry_id": entry_id,
                "ts": datetime.now(UTC),
                "actor": actor,
                "action": action,
                "target": target,
                "mcn_id": mcn_id,
                "details": json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
            }
        ],
    )
    return entry_id


class AuditLimiter:
    """How many entries of one kind may still be written this minute (see the module's text)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def admit(self, actor: str, action: str) -> int | None:
        """None to leave this entry out; else how many were left out before it."""
        with self._lock:
            now = self._clock()
            mine, everyone = (actor, action), ("", action)
            allowed = self._take(mine, self.per_minute, now) and self._take(
                everyone, 10 * self.per_minute, now
            )
            if not allowed:
                self._suppressed[mine] = self._suppressed.get(mine, 0) + 1
                return None
            return self._suppressed.pop(mine, 0)

    def _take(self, key: tuple[str, str], limit: int, now: float) -> bool:
        start, used = self._windows.get(key, (now, 0))
        if now - start >= 60:
            start, used = now, 0
        if used >= limit:
            self._windows[key] = (start, used)
            return False
        self._windows[key] = (start, used + 1)
        return True


def record_limited(
    store: Store, limiter: AuditLimiter, actor: str, action: str, target: str, **details: Any
) -> str | None:
    """Append a refusal (no MCN) unless its rate is used up; returns the id, None when left out."""
    suppressed = limiter.admit(actor, action)
    if suppressed is None:
        return None
    extra = {"suppressed": suppressed} if suppressed else {}
    return record(store, actor, action, target[:500], "", **details, **extra)


def recent(store: Store, scope: Scope, limit: int = 200, action: str = "") -> list[dict[str, Any]]:
    """The newest entries the scope may see (an officer: those about their MCN, actors from
    outside it named by role); ``action``: only those whose action starts so."""
    rows = scoped_query(
        store,
        "SELECT entry_id, ts, actor, action, target, mcn_id, details FROM audit_log "
        "WHERE {scope} AND substring(action, 1, length(%(action)s)) = %(action)s "
        "ORDER BY ts DESC, entry_id LIMIT %(limit)s",
        scope,
        {"limit": int(limit), "action": action},
    )
    if scope.mcn_ids is None:
        return rows
    accounts = {r["username"]: r for r in store.query("SELECT username, role, mcn_id FROM users FINAL")}

    def shown(actor: str) -> str:
        account = accounts.get(actor)
        if account is not None and account["mcn_id"] in scope.mcn_ids:  # type: ignore[operator]
            return actor
        return str(account["role"]) if account is not None else "system"

    return [{**r, "actor": shown(r["actor"])} for r in rows]
