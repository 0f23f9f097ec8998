"""The review lifecycle in the warehouse: a violation's state read from its ``reviews`` rows, and
a transition written as one more row (checked by :mod:`pipeline.reporting.lifecycle` first).

Checking and writing happen under one lock per process, so two identical requests at once write
one row: the second finds the state the first left and is a no-op. The console is one process;
the state is read from the store itself (never from a page's kept copy).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.records import Review
from pipeline.reporting.lifecycle import Action, State, Transition, check, state_of
from pipeline.reporting.scope import Scope, scoped_query
from pipeline.warehouse import Store
from pipeline.warehouse.rows import review_row

_WRITING = threading.Lock()
STATE_SQL = (
    "SELECT argMax(decision, (reviewed_at, review_id)) AS decision, count() AS n FROM reviews FINAL "
    "WHERE violation_id = %(id)s AND {scope}"
)


@dataclass(frozen=True, slots=True)
class Attached:
    """An attachment already stored (pipeline.console.attachments): what its review row records."""

    sha256: str
    name: str
    media_type: str
    size: int


def current_state(store: Store, scope: Scope, violation_id: str) -> State:
    """The violation's state now, from its latest review row (pending without one)."""
    rows = scoped_query(store, STATE_SQL, scope, {"id": violation_id})
    return state_of(rows[0]["decision"] if rows and rows[0]["n"] else None)


def transition(
    store: Store,
    scope: Scope,
    *,
    violation_id: str,
    mcn_id: str,
    actor: str,
    role: str,
    action: Action,
    note: str,
    attachment: Attached | None = None,
    on_allowed: Callable[[], None] | None = None,
) -> Transition | None:
    """Take ``action`` on the violation as ``actor`` (of ``role``): the row written, as a
    Transition; None when the violation is already where the action leads (nothing written).
    Raises :class:`~pipeline.reporting.lifecycle.TransitionRefused` for a move not allowed.
    ``on_allowed`` runs once the move is allowed, before its row is written (the console stores
    the attachment's file there: a refused move leaves no file behind)."""
    with _WRITING:
        state = current_state(store, scope, violation_id)
        step = check(state, action, role, note=note, attachment=attachment is not None)
        if step is None:
            return None
        if on_allowed is not None:
            on_allowed()
        now = datetime.now(UTC)
        review = Review(
            review_id=f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}",  # sorts by time: the latest wins
            violation_id=violation_id,
            reviewer=actor,
            decision=action,
            reviewed_at=now,
            reason=note.strip(),
            attachment_sha256=attachment.sha256 if attachment else "",
            attachment_name=attachment.name if attachment else "",
            attachment_type=attachment.media_type if attachment else "",
            attachment_bytes=attachment.size if attachment else 0,
        )
        store.insert("reviews", [review_row(review, mcn_id=mcn_id)])
        return step
