"""`claimwatch worker`: one faust worker process, from its settings to SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import faust

from pipeline.config import Settings
from pipeline.errors import ServiceError, WarehouseUnavailable
from pipeline.stream.app import build
from pipeline.stream.publish import check_reachable, ensure_topics
from pipeline.stream.runtime import Runtime, create_runtime
from pipeline.warehouse import Store, open_store

log = logging.getLogger(__name__)
_MAX_WAIT_S = 15.0
T = TypeVar("T")


def run_worker(settings: Settings, bootstrap: str) -> None:
    """`claimwatch worker`: a faust worker process until SIGINT/SIGTERM."""
    level = min(logging.getLogger().level, logging.INFO)  # a service logs what it does
    for noisy in ("faust", "mode", "aiokafka", "kafka"):  # their warnings and errors, not chatter
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    wait_for_broker(bootstrap)
    ensure_topics(bootstrap, settings.topic_partitions)
    store, runtime = started(settings)
    try:
        app = build(settings, bootstrap, runtime)
        faust.Worker(app, loglevel=level).execute_from_commandline()
    finally:
        store.close()


def wait_for_broker(bootstrap: str) -> None:
    """Until the broker takes connections (a worker restarted while it is down waits for it)."""
    _until_up("the broker", lambda: check_reachable(bootstrap), ServiceError)


def started(settings: Settings) -> tuple[Store, Runtime]:
    """The warehouse opened and the runtime built (the ledger loaded from it), waiting out an outage
    however long it lasts (a worker restarted while ClickHouse is down would otherwise exit)."""
    return _until_up("the warehouse", lambda: _opened(settings), WarehouseUnavailable)


def _opened(settings: Settings) -> tuple[Store, Runtime]:
    store = open_store(settings)
    try:
        return store, create_runtime(settings, store)
    except BaseException:
        store.close()
        raise


def _until_up(what: str, attempt: Callable[[], T], outage: type[Exception]) -> T:
    """``attempt()`` again after 1, 2, 4 .. 15 s for as long as it fails with ``outage`` (SIGTERM
    still ends the wait: nothing has started yet that needs a goodbye)."""
    delay = 1.0
    while True:
        try:
            return attempt()
        except outage as exc:
            log.warning("waiting for %s: %s; retry in %.0f s", what, exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, _MAX_WAIT_S)
