"""Login rate limiting: failed attempts per user name and per client address in a sliding window.

A user name is refused after ``attempts`` failures in the window; a client address after
``IP_FACTOR`` times as many (several people may share one address behind a NAT).

Kept in the console process's memory: a restart forgets it, and several console processes each
count on their own (put the login behind one process or a proxy limit when scaling out).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

IP_FACTOR = 4


class LoginLimiter:
    """At most ``attempts`` failures per user (``IP_FACTOR`` times that per address) in ``window_s``."""

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, user_key: str, address_key: str) -> bool:
        """Whether the user name or the client address has used up its failures."""
        with self._lock:
            return (
                len(self._recent(user_key)) >= self.attempts
                or len(self._recent(address_key)) >= self.attempts * IP_FACTOR
            )

    def fail(self, *keys: str) -> None:
        with self._lock:
            now = self._clock()
            for key in keys:
                self._recent(key).append(now)

    def succeed(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        horizon = self._clock() - self.window_s
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures
