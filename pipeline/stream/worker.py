"""`claimwatch worker`: one faust worker process, from its settings to SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import faust
from aiokafka.errors import KafkaConnectionError as AIOKafkaConnectionError
from kafka.errors import KafkaError

from pipeline.config import Settings
from pipeline.errors import ServiceError, TopicLayoutError, WarehouseUnavailable
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
    store, runtime = started(settings)  # the model loads meanwhile: seconds
    try:
        while not _served(settings, bootstrap, runtime, level):
            log.warning("the broker went away while the worker connected to it: connecting again")
    finally:
        store.close()


def _served(settings: Settings, bootstrap: str, runtime: Runtime, level: int) -> bool:
    """One faust worker on a fresh event loop until it stops: True, or False when the broker went
    away before it had started (its producer's bootstrap failed: a broker restarted right then)."""
    _until_up("the broker", lambda: _connected(bootstrap, settings.topic_partitions), _broker_down)
    asyncio.set_event_loop(asyncio.new_event_loop())  # the last attempt's worker closed its loop
    worker = _Worker(build(settings, bootstrap, runtime), loglevel=level)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        if not worker.failed_connecting:
            raise
        return False
    return True  # pragma: no cover (execute_from_commandline always exits)


def _connected(bootstrap: str, partitions: int) -> None:
    check_reachable(bootstrap)
    ensure_topics(bootstrap, partitions)


def _broker_down(exc: Exception) -> bool:
    """Unreachable, or gone while the topics were checked (a wrong layout is no outage: it exits)."""
    return isinstance(exc, (ServiceError, KafkaError)) and not isinstance(exc, TopicLayoutError)


def _warehouse_down(exc: Exception) -> bool:
    return isinstance(exc, WarehouseUnavailable)


class _Worker(faust.Worker):
    """A faust worker that tells whether it failed before it had started, for want of a broker."""

    failed_connecting = False
    _started_up = False

    async def on_startup_finished(self) -> None:
        self._started_up = True
        await super().on_startup_finished()

    async def start(self) -> None:
        try:
            await super().start()
        except (AIOKafkaConnectionError, KafkaError):
            self.failed_connecting = not self._started_up
            raise


def started(settings: Settings) -> tuple[Store, Runtime]:
    """The warehouse opened and the runtime built (the ledger loaded from it), waiting out an outage
    however long it lasts (a worker restarted while ClickHouse is down would otherwise exit)."""
    return _until_up("the warehouse", lambda: _opened(settings), _warehouse_down)


def _opened(settings: Settings) -> tuple[Store, Runtime]:
    store = open_store(settings)
    try:
        return store, create_runtime(settings, store)
    except BaseException:
        store.close()
        raise


def _until_up(what: str, attempt: Callable[[], T], outage: Callable[[Exception], bool]) -> T:
    """``attempt()`` again after 1, 2, 4 .. 15 s for as long as it fails with an error that
    ``outage`` accepts (SIGTERM still ends the wait: nothing has started yet that needs a goodbye)."""
    delay = 1.0
    while True:
        try:
            return attempt()
        except Exception as exc:
            if not outage(exc):
                raise
            log.warning("waiting for %s: %s; retry in %.0f s", what, exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, _MAX_WAIT_S)
