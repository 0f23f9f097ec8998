"""A batching sink: rows collect per table and go to the store in size- and time-bounded batches.

``add`` collects, ``due`` says a flush is needed (a table reached ``max_rows`` or the oldest row
is ``max_age_s`` old), ``flush`` writes everything pending. A failed write keeps the rows, so the
caller can retry; rows are idempotent in the warehouse (deterministic ids, FINAL), so a batch
written twice after a crash is harmless. Delivery is at-least-once: the caller commits its input
only after ``flush`` returned.

Two kinds of failure, told apart: an outage (:class:`WarehouseUnavailable`, or any other error of
the store that is not about the data) may pass, so the rows are kept and ``flush_until_done``
waits it out; a row the warehouse refuses for good (:class:`RowRefused`: a value out of its
column's range) never will, and retrying it would hold every row behind it for ever. A refused
batch is halved until the refused rows are found; the rest is stored, and each refused row is
set aside as a :class:`DeadLetter` with the warehouse's reason (``take_refused``: the worker sends
them to the dead-letter topic), logged as an error and counted in ``refused``. ``stop`` ends a
wait for the warehouse at once (a worker told to shut down must not sleep through it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import RowRefused, WarehouseError, WarehouseUnavailable
from pipeline.records import DeadLetter
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
        self._refused: list[DeadLetter] = []
        self._stopping = threading.Event()
        self.written = 0
        self.refused: Counter[str] = Counter()  # rows refused for good, by table

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
        """Write every pending row (refused ones set aside); returns how many were stored. On an
        outage the unwritten tables stay pending and it raises."""
        written = 0
        for table in list(self._pending):
            refused = self.refused[table]
            self.write(table, self._pending[table])
            written += len(self._pending.pop(table)) - (self.refused[table] - refused)
        self._oldest = None if not self._pending else self._oldest
        self.written += written
        return written

    def write(self, table: str, rows: list[Row]) -> None:
        """One batch into one table (override to redirect, e.g. in tests)."""
        for start in range(0, len(rows), self.max_rows):
            self._insert(table, rows[start : start + self.max_rows])

    def _insert(self, table: str, rows: list[Row]) -> None:
        """Rows into the store; a refused batch halved until its refused rows are found."""
        try:
            self.store.insert(table, rows)
        except RowRefused as exc:
            if len(rows) == 1:
                self._refuse(table, rows[0], str(exc))
                return
            half = len(rows) // 2
            self._insert(table, rows[:half])
            self._insert(table, rows[half:])

    def _refuse(self, table: str, row: Row, reason: str) -> None:
        self.refused[table] += 1
        self._refused.append(refused_letter(table, row, reason))
        log.error("warehouse refused a row of %s for good, dead-lettered: %s", table, reason)

    def take_refused(self) -> list[DeadLetter]:
        """The rows refused since the last call, as dead letters (each returned once)."""
        taken, self._refused = self._refused, []
        return taken

    def stop(self) -> None:
        """End ``flush_until_done``'s wait for the warehouse now (it raises; rows stay pending)."""
        self._stopping.set()

    def flush_until_done(self, *, backoff_s: float = 1.0, max_backoff_s: float = 30.0) -> int:
        """Flush, waiting out a warehouse outage however long it lasts (the worker must not
        commit its input meanwhile, and must not drop rows), until ``stop`` is called: then it
        raises WarehouseUnavailable with the rows still pending."""
        delay = backoff_s
        while True:
            try:
                return self.flush()
            except WarehouseError as exc:
                log.warning(
                    "warehouse write failed (%s); %d rows kept, retry in %.0f s", exc, len(self), delay
                )
                if self._stopping.wait(delay):
                    raise WarehouseUnavailable(
                        f"sink stopped while waiting for the warehouse; {len(self)} rows not stored"
                    ) from exc
                delay = min(delay * 2, max_backoff_s)


def refused_letter(table: str, row: Row, reason: str) -> DeadLetter:
    """A refused row as a dead letter: its table, the warehouse's reason, the row as JSON."""
    payload = json.dumps(row, ensure_ascii=False, default=_jsonable, sort_keys=True)
    stream_id = row.get("stream_id")
    return DeadLetter(
        topic=f"warehouse.{table}",
        reason=reason,
        payload=payload.encode("utf-8", "backslashreplace"),
        ts=datetime.now(UTC),
        key=stream_id.encode("utf-8", "backslashreplace") if isinstance(stream_id, str) else None,
    )


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)
