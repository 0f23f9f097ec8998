"""The faust application: topics, tables and agents wired to a :class:`Runtime` (DESIGN.md §1).

``build(settings, bootstrap, runtime)`` returns a faust app with ClaimWatch's topics, its
changelog-backed table and the agents of :mod:`pipeline.stream.agents`. The runtime
(:mod:`pipeline.stream.runtime`) holds the stage objects; agents only move records between topics
and the runtime.

The table ``stage`` (key stream id) holds what the listing checks remember of a stream, above all
which product is being presented (讲解中) at what time, and the stream's facts.

Not a table: the ledger. Every worker loads it from the warehouse and follows the compacted
ledger topic with a consumer of no group (:mod:`pipeline.stream.ledger_feed`), so no rebalance
recovers it. And the stage table's recovery skips faust's consistency check (see ``build``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import faust

from pipeline.config import Settings
from pipeline.stream import agents, topics
from pipeline.stream.ledger_feed import LedgerFeed
from pipeline.stream.runtime import Runtime

log = logging.getLogger(__name__)
RAW: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}


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
        # The check compares the changelog offsets this process has read with the broker's end
        # offsets, to catch a RocksDB store that outlived its topic. The store is memory (nothing
        # outlives the process), and tansu's end offset counts record batches, not records, so
        # what was read passes it: faust raised ConsistencyError and the worker exited.
        recovery_consistency_check=False,
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
    agents.register(app, wiring, runtime)
    app.task(LedgerFeed(bootstrap, runtime).run)  # every worker follows the whole ledger topic

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: set[Any], **_: Any) -> None:
        owned = {
            topic: sorted(tp.partition for tp in assigned if tp.topic == topic)
            for topic in (topics.AUDIO, *topics.MONITORED)
        }
        log.info("worker %d owns %s", os.getpid(), "; ".join(f"{t} partitions {p}" for t, p in owned.items()))
        runtime.counts["rebalances"] += 1

    return app
