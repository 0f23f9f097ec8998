"""A batching sink: rows collect per table and go to the store in size- and time-bounded batches.

``add`` collects, ``due`` says a flush is needed (a table reached ``max_rows`` or the oldest row
is ``max_age_s`` old), ``flush`` writes everything pending. A failed write keeps the rows, so the
caller can retry; rows are idempotent in the warehouse (deterministic ids, FINAL), so a batch
written twice after a crash is harmless. Delivery is at-least-once: the caller commits its input
only after ``flush`` returned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.errors import WarehouseError
from pipeline.warehouse.store import Store

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


class BatchingSink:
    """Collects rows per table and writes them in batches."""

    def __init__(
        self,
        store: Store,
        *,
        max_rows: int = 1000,
        max_age_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self._clock = clock
        self._pending: dict[str, list[Row]] = {}
        self._oldest: float | None = None
        self.written = 0

    def add(self, table: str, row: Row) -> None:
        self._pending.setdefault(table, []).append(row)
        if self._oldest is None:
            self._oldest = self._clock()

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._pending.values())

    def due(self) -> bool:
        if self._oldest is None:
            return False
        full = any(len(rows) >= self.max_rows for rows in self._pending.values())
        return full or self._clock() - self._oldest >= self.max_age_s

    def flush(self) -> int:
        """Write every pending row; on failure the unwritten tables stay pending and it raises."""
        written = 0
        for table in list(self._pending):
            self.write(table, self._pending[table])
            written += len(self._pending.pop(table))
        self._oldest = None if not self._pending else self._oldest
        self.written += written
        return written

    def write(self, table: str, rows: list[Row]) -> None:
        """One batch into one table (override to redirect, e.g. in tests)."""
        for start in range(0, len(rows), self.max_rows):
            self.store.insert(table, rows[start : start + self.max_rows])

    def flush_until_done(self, *, backoff_s: float = 1.0, max_backoff_s: float = 30.0) -> int:
        """Flush, waiting out a warehouse outage however long it lasts (the worker must not
        commit its input meanwhile, and must not drop rows)."""
        delay = backoff_s
        while True:
            try:
                return self.flush()
            except WarehouseError as exc:
                log.warning(
                    "warehouse write failed (%s); %d rows kept, retry in %.0f s", exc, len(self), delay
                )
                time.sleep(delay)
                delay = min(delay * 2, max_backoff_s)
