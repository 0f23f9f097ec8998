"""`claimwatch worker`: one faust worker process, from its settings to SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import time

import faust

from pipeline.config import Settings
from pipeline.errors import ServiceError, WarehouseUnavailable
from pipeline.stream.app import build
from pipeline.stream.publish import check_reachable, ensure_topics
from pipeline.stream.runtime import Runtime, create_runtime
from pipeline.warehouse import Store, open_store

log = logging.getLogger(__name__)
_MAX_WAIT_S = 15.0


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
    delay = 1.0
    while True:
        try:
            check_reachable(bootstrap)
            return
        except ServiceError as exc:
            log.warning("waiting for the broker: %s; retry in %.0f s", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, _MAX_WAIT_S)


def started(settings: Settings) -> tuple[Store, Runtime]:
    """The warehouse opened and the runtime built, waiting out an outage however long it lasts (a
    worker restarted while ClickHouse is down would otherwise exit; SIGTERM still ends the wait)."""
    delay = 1.0
    while True:
        try:
            store = open_store(settings)
        except WarehouseUnavailable as exc:
            log.warning("waiting for the warehouse to start: %s; retry in %.0f s", exc, delay)
        else:
            try:
                return store, create_runtime(settings, store)
            except WarehouseUnavailable as exc:
                store.close()
                log.warning("waiting for the warehouse to load the ledger: %s; retry in %.0f s", exc, delay)
            except BaseException:
                store.close()
                raise
        time.sleep(delay)
        delay = min(delay * 2, _MAX_WAIT_S)
