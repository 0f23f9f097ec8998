"""The ledger a worker checks against: the warehouse's, then every row the ledger topic brings.

Every worker needs every ledger row (any stream may name any product), so each one reads the whole
ledger topic itself, with a consumer of no group (it is assigned the topic's partitions; it takes
part in no rebalance and commits nothing). It is not a faust table on purpose: a table's changelog
recovery runs at every rebalance and compares the offsets it has read with the broker's end offsets,
and on a broker whose end offset counts record batches rather than records (tansu's does) the
offsets read pass the end offset as soon as one import sent more than one row per batch: faust
raised ConsistencyError and every worker exited when another joined (issue 15, item 4).

What the feed does at start, in this order, is what keeps it exact:

1. it takes the topic's end offsets;
2. it loads the current ledger from the warehouse (waiting out an outage);
3. it reads the topic from those offsets on, for as long as the worker runs.

``claimwatch ledger import`` writes the warehouse before it publishes, so a row published before
(1) is in the warehouse by (2), and one published after (1) is read in (3). On Apache Kafka the end
offsets are exact and nothing is read twice; on tansu they count batches, fall short of the true
end, and some of the last rows are read again in their order, ending at the newest version of
each product as the warehouse has it. Nothing compares offsets, so nothing can be inconsistent.
A broker that fails under the feed makes it start again from (1) after a pause.
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from pipeline.errors import RecordError
from pipeline.records import LedgerEntry, decode
from pipeline.stream import topics
from pipeline.stream.runtime import Runtime

log = logging.getLogger(__name__)

RESTART_S = 5.0  # after the broker failed under the feed
POLL_MS = 1000


class LedgerFeed:
    """Keeps a runtime's ledger current from the ledger topic (see the module docstring)."""

    def __init__(self, bootstrap: str, runtime: Runtime) -> None:
        self.bootstrap = bootstrap
        self.runtime = runtime
        self.read = 0  # rows applied from the topic

    async def run(self) -> None:
        """Follow the ledger topic until cancelled (the app stopping)."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker failed under it: never leave the ledger unfollowed
                log.warning("ledger feed failed (%s); starting again in %.0f s", exc, RESTART_S)
                await asyncio.sleep(RESTART_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"claimwatch-ledger-feed-{os.getpid()}",
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)  # (1), before the warehouse is read
            await self.runtime.reload_ledger()  # (2)
            for tp in partitions:
                consumer.seek(tp, ends[tp])
            log.info("ledger feed: from offsets %s on", {tp.partition: ends[tp] for tp in partitions})
            while True:  # (3)
                batches = await consumer.getmany(timeout_ms=POLL_MS)
                for records in batches.values():
                    for record in records:
                        self.apply(record)
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while True:
            await consumer.topics()  # fetches the metadata
            found = consumer.partitions_for_topic(topics.LEDGER)
            if found:
                return [TopicPartition(topics.LEDGER, p) for p in sorted(found)]
            log.warning("ledger feed: no topic %s yet; asking again in %.0f s", topics.LEDGER, RESTART_S)
            await asyncio.sleep(RESTART_S)

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """One row of the topic (a tombstone removes the product) into the runtime's ledger."""
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if record.value is None:
            mcn_id, _, product_id = key.partition("/")
            self.runtime.on_ledger_removed(mcn_id, product_id)
        else:
            try:
                self.runtime.on_ledger(decode(LedgerEntry, record.value))
            except RecordError as exc:  # `ledger import` validated it: this is not our writer's
                log.error("ledger row %s at offset %d ignored: %s", key, record.offset, exc)
                return
        self.read += 1
