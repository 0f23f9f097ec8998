"""A small time-limited cache with single flight, for pages that cost the store much time.

The store takes one query at a time (a server store a few), so twenty readers asking for the
overview at once would queue twenty identical computations. Here the first request for a key
computes the value; the others that arrive while it runs wait for that one result (single
flight) instead of running it again, and requests in the next ``ttl_s`` seconds get it without
touching the store.

``clear()`` (a review was recorded) drops every value and detaches the computations in flight:
a request that comes after it never receives a result computed before it, and a computation
that was running when it came is not kept. An error is not cached: the requests waiting for
that computation get the same exception, the next request computes again.

:class:`SessionCache` keeps the console's session checks (see :mod:`pipeline.console.auth`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.console.sessions import Session, changes, is_live, touch_due
from pipeline.console.users import User

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Flight(Generic[V]):
    """One computation in progress, which other requests for its key wait on."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None

    def wait(self) -> V:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # set before done


class TtlCache(Generic[K, V]):
    """Values by key, each kept ``ttl_s`` seconds (``ttl_s <= 0``: nothing is kept, every
    request computes, but concurrent ones for the same key still share one computation)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[K, tuple[float, V]] = {}
        self._flights: dict[K, _Flight[V]] = {}
        self._generation = 0

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """The value of ``key``: kept, being computed by another request, or computed now."""
        with self._lock:
            kept = self._values.get(key)
            if kept is not None and kept[0] > self._clock():
                return kept[1]
            flight = self._flights.get(key)
            if flight is not None:
                leader = False
            else:
                leader, flight = True, _Flight()
                self._flights[key] = flight
            generation = self._generation
        if not leader:
            return flight.wait()
        return self._run(key, flight, generation, compute)

    def _run(self, key: K, flight: _Flight[V], generation: int, compute: Callable[[], V]) -> V:
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            self._land(key, flight, generation, None)
            raise
        flight.value = value
        self._land(key, flight, generation, (self._clock() + self.ttl_s, value))
        return value

    def _land(self, key: K, flight: _Flight[V], generation: int, kept: tuple[float, V] | None) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if kept is not None and self.ttl_s > 0 and generation == self._generation:
                now = self._clock()
                self._values = {k: v for k, v in self._values.items() if v[0] > now}  # expired go
                self._values[key] = kept
        flight.done.set()

    def clear(self) -> None:
        """Forget every value and every computation in flight (their waiters still get theirs)."""
        with self._lock:
            self._generation += 1
            self._values.clear()
            self._flights.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


@dataclass(frozen=True, slots=True)
class _Checked:
    session: Session
    user: User
    changes: int  # sessions.changes() before the warehouse was read
    until: float


class SessionCache:
    """Sessions found live with an enabled user, by token hash, each kept ``ttl_s`` seconds and
    only while :func:`pipeline.console.sessions.changes` stays where it was before they were
    read (a session ended or an account changed in this process since: read again). A kept one
    is not used once it expires or goes idle, nor when its use is due to be written down
    (``sessions.touch_due``): the warehouse is read then, as without the cache, so the idle
    timeout sees the same uses. Only for a warehouse no other process writes."""

    MAX_ENTRIES = 10_000

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        generation: Callable[[], int] = changes,
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._generation = generation
        self._lock = threading.Lock()
        self._kept: dict[str, _Checked] = {}

    def get(self, key: str, idle_s: float) -> tuple[Session, User] | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            if kept.changes != self._generation() or kept.until <= self._clock():
                del self._kept[key]
                return None
        if touch_due(kept.session, idle_s) or not is_live(kept.session, idle_s):
            return None  # read the warehouse: it writes the use down, or refuses an idle session
        return kept.session, kept.user

    def put(self, key: str, generation: int, session: Session, user: User) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            now = self._clock()
            if len(self._kept) >= self.MAX_ENTRIES:
                self._kept = {k: v for k, v in self._kept.items() if v.until > now}
                if len(self._kept) >= self.MAX_ENTRIES:
                    self._kept.clear()
            self._kept[key] = _Checked(session, user, generation, now + self.ttl_s)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)
