"""CPU-heavy work of a request (building an evidence bundle) on a few threads of low priority.

An export cuts a clip per violation from the archived audio and zips them: hundreds of
milliseconds of CPU for a month, on the same cores as every page. The request's thread hands
that work to a :class:`Background` pool of ``workers`` threads and waits for it, so at most that
many exports build at once (the others wait their turn, holding no CPU), and on Linux the pool's
threads run at ``nice`` +``nice`` (a thread's own priority: raising it needs no privilege), so
the scheduler gives the pages' threads the CPU first. The store's queries stay on the request's
thread: a low-priority thread must never hold the embedded store's lock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (Linux: per thread; elsewhere: no-op)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # not permitted here: the thread keeps the normal priority
        log.debug("cannot lower the priority of thread %s: %s", tid, exc)


class Background:
    """``workers`` threads at ``nice`` +``nice`` (started when first needed); :meth:`run` waits
    for the call's result."""

    def __init__(self, workers: int, nice: int = 10, name: str = "claimwatch-background") -> None:
        self.workers = workers
        self.nice = nice
        self._pool = ThreadPoolExecutor(
            workers, thread_name_prefix=name, initializer=lower_priority, initargs=(nice,)
        )

    def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a pool thread, once the calls queued before it have had
        theirs; its result, or its exception."""
        return self._pool.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
