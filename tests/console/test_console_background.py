"""The export threads (issue 16, item 7): at most ``workers`` bundles built at once, on threads at
a lower OS priority than the pages', results and errors handed back to the request."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from pipeline.console.background import Background, lower_priority


def test_at_most_the_workers_run_at_once_and_results_come_back() -> None:
    pool = Background(2)
    running, most, lock = [0], [0], threading.Lock()

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return n * n

    results: list[int] = []
    callers = [threading.Thread(target=lambda n=n: results.append(pool.run(work, n))) for n in range(6)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)
    pool.close()
    assert sorted(results) == [n * n for n in range(6)]
    assert most[0] == 2


def test_an_error_reaches_the_caller() -> None:
    pool = Background(1)

    def fail() -> None:
        raise ValueError("no clip")

    with pytest.raises(ValueError, match="no clip"):
        pool.run(fail)
    assert pool.run(lambda: 7) == 7  # the thread is still there
    pool.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_the_threads_run_at_a_lower_priority_than_the_caller() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    pool = Background(1, nice=5)
    theirs = pool.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    pool.close()
    assert theirs == min(19, mine + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the caller's is as it was


def test_no_change_is_asked_for_nothing() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    lower_priority(0)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
