"""The selection ledger in the warehouse: imports with history, and the rows as they stood.

Every import adds a version of each product whose row changed (new or different content, by the
row hash); unchanged rows are not written again, so the history holds real changes only. A newer
import replaces a product's row; products the file does not mention keep their last version.
:func:`current_ledger` gives the latest version of each product, or the version that stood at a
time (``as_of``), which is what evidence shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.records import LedgerEntry, decode, stable_id
from pipeline.warehouse import Store
from pipeline.warehouse.rows import ledger_row
from pipeline.warehouse.sql import where_clause


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import wrote."""

    import_id: str
    imported_at: datetime
    new: int
    changed: int
    unchanged: int


def save_import(
    store: Store, entries: Sequence[LedgerEntry], *, imported_at: datetime, source: str
) -> ImportSummary:
    """Write the rows that are new or changed since each product's latest version."""
    import_id = stable_id("ledger-import", source, imported_at.isoformat())
    rows = [ledger_row(e, imported_at=imported_at, import_id=import_id) for e in entries]
    latest = _latest_hashes(store, sorted({e.mcn_id for e in entries}))
    fresh = [r for r in rows if latest.get((r["mcn_id"], r["product_id"])) != r["row_hash"]]
    store.insert("ledger", fresh)
    new = sum((r["mcn_id"], r["product_id"]) not in latest for r in fresh)
    return ImportSummary(import_id, imported_at, new, len(fresh) - new, len(rows) - len(fresh))


def _latest_hashes(store: Store, mcn_ids: list[str]) -> dict[tuple[str, str], str]:
    latest: dict[tuple[str, str], str] = {}
    for mcn_id in mcn_ids:  # one query per MCN: `IN [array]` is not portable to ClickHouse 18.16
        rows = store.query(
            "SELECT product_id, argMax(row_hash, imported_at) AS row_hash FROM ledger FINAL "
            "WHERE mcn_id = %(mcn_id)s GROUP BY product_id",
            {"mcn_id": mcn_id},
        )
        latest.update({(mcn_id, r["product_id"]): r["row_hash"] for r in rows})
    return latest


def current_ledger(
    store: Store, mcn_id: str | None = None, *, as_of: datetime | None = None
) -> list[LedgerEntry]:
    """The latest version of each product (of one MCN, or all), or the one standing at ``as_of``."""
    where, params = where_clause({"mcn_id": mcn_id}, as_of=("imported_at", as_of))
    rows = store.query(
        "SELECT mcn_id, product_id, argMax(raw, imported_at) AS raw FROM ledger FINAL "
        f"{where} GROUP BY mcn_id, product_id ORDER BY mcn_id, product_id",
        params or None,
    )
    return [decode(LedgerEntry, r["raw"]) for r in rows]
