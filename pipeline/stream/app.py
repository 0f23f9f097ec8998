"""The faust application: topics, tables and agents wired to a :class:`Runtime` (DESIGN.md §1).

``build(settings, bootstrap, runtime)`` returns a faust app with ClaimWatch's topics, its
changelog-backed tables and the agents of :mod:`pipeline.stream.agents`. The runtime
(:mod:`pipeline.stream.runtime`) holds the stage objects; agents only move records between topics
and the runtime.

Tables:

- ``stage`` (key stream id): what the listing checks remember of a stream, above all which
  product is being presented (讲解中) at what time, and the stream's facts;
- ``ledger`` (a global table over the compacted ``ledger`` topic): every worker sees every
  ledger row.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

import faust
from faust.types import EventT

from pipeline.config import Settings
from pipeline.records import LedgerEntry, decode
from pipeline.stream import agents, topics
from pipeline.stream.runtime import Runtime

log = logging.getLogger(__name__)
RAW: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}


class LedgerTable(faust.GlobalTable):
    """The ledger as a global table over the compacted ledger topic; every row that arrives (at
    recovery or later) goes to the listing checker too."""

    runtime: Runtime | None = None

    def apply_changelog_batch(self, batch: Iterable[EventT[Any]]) -> None:
        events = list(batch)
        super().apply_changelog_batch(events)
        if self.runtime is None:
            return
        for event in events:
            if event.value is None:
                key = event.key if isinstance(event.key, bytes) else b""
                mcn_id, _, product_id = key.decode().partition("/")
                self.runtime.on_ledger_removed(mcn_id, product_id)
            else:
                self.runtime.on_ledger(decode(LedgerEntry, event.value))


@asynccontextmanager
async def running(app: faust.App) -> AsyncIterator[faust.App]:
    """The app started in this event loop (the demo and the tests run it in-process)."""
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def build(settings: Settings, bootstrap: str, runtime: Runtime) -> faust.App:
    """The faust app with ClaimWatch's topics, tables and agents, wired to ``runtime``."""
    app = faust.App(
        topics.APP_ID,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_rebalance_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.broker_session_timeout_s / 3),
        broker_commit_every=100,
        broker_commit_interval=1.0,
        table_standby_replicas=0,
        stream_wait_empty=False,
        GlobalTable=LedgerTable,
    )
    partitions = settings.topic_partitions
    wiring = agents.Topics(
        audio=app.topic(topics.AUDIO, partitions=partitions, **RAW),
        monitored=app.topic(*topics.MONITORED, partitions=partitions, **RAW),
        transcripts=app.topic(topics.TRANSCRIPTS, partitions=partitions, **RAW),
        violations=app.topic(topics.VIOLATIONS, partitions=partitions, **RAW),
        deadletter=app.topic(topics.DEADLETTER, partitions=1, **RAW),
    )
    runtime.stage_table = app.Table(  # a faust Table is a mutable mapping of bytes
        "stage", partitions=partitions, key_type=bytes, value_type=bytes
    )
    ledger = app.GlobalTable(  # its changelog is topics.LEDGER, which `ledger import` writes
        "ledger",
        partitions=1,
        recovery_buffer_size=1,
        synchronize_all_active_partitions=True,
        key_type=bytes,
        value_type=bytes,
    )
    cast(LedgerTable, ledger).runtime = runtime
    agents.register(app, wiring, runtime)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: set[Any], **_: Any) -> None:
        audio = sorted(tp.partition for tp in assigned if tp.topic == topics.AUDIO)
        log.info("worker %d owns %s partitions %s", os.getpid(), topics.AUDIO, audio)
        runtime.counts["rebalances"] += 1

    return app
