"""The audit log: who reviewed, exported or administered what, and when.

Append-only: ClaimWatch only ever inserts into ``audit_log`` (a plain MergeTree, so no row is
ever folded away), and nothing in the code updates or deletes from it.
"""

from __future__ import annotations

import json
import secrets
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


def recent(store: Store, scope: Scope, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries the scope may see (an officer: those about their MCN)."""
    return scoped_query(
        store,
        "SELECT entry_id, ts, actor, action, target, mcn_id, details FROM audit_log "
        "WHERE {scope} ORDER BY ts DESC, entry_id LIMIT %(limit)s",
        scope,
        {"limit": int(limit)},
    )
