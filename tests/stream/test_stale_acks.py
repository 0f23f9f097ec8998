"""An event still being worked on when a rebalance gives its partition back is not acked: faust
would commit past the offsets read again before it (pipeline/stream/agents.py, ``fetched_now``).

Real faust consumers in a group on the tansu broker: this process holds an event of partition 0
while a second member joins (partition 0 moves to it) and leaves (it comes back). The held event
then finishes, and its copy read again is held in turn: nothing of partition 0 may be committed
until that copy is done. Acked as before, the stale event had faust commit offset 1 meanwhile.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import TopicPartition

from pipeline.stream.agents import ack_fetched

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOINER = """
import asyncio, sys, faust
bootstrap, group, topic, stay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
app = faust.App(group, broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False,
                stream_wait_empty=False, broker_session_timeout=6, broker_heartbeat_interval=1)
@app.agent(app.topic(topic, key_serializer="raw", value_serializer="raw", partitions=2))
async def work(stream):
    async for _ in stream.noack().events():
        pass  # never acked: the partition goes back uncommitted
async def main():
    await app.start()
    await asyncio.sleep(stay)
    await app.stop()
asyncio.run(main())
"""


def _committed(bootstrap: str, group: str, topic: str, partition: int) -> int | None:
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        found: int | None = reader.committed(TopicPartition(topic, partition))
        return found
    finally:
        reader.close()


async def _until(condition: Callable[[], bool], timeout_s: float, why: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {why if isinstance(why, str) else why()}")
        await asyncio.sleep(0.2)


def _publish_one_per_partition(bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition in (0, 1):
        producer.send(topic, key=b"k", value=f"v{partition}".encode(), partition=partition).get(10)
    producer.close()


async def _second_member_comes_and_goes(app: faust.App, bootstrap: str, group: str, topic: str) -> None:
    """A second member joins (partition 0 moves to it) and leaves (it comes back): two rebalances."""
    first = app.consumer_generation_id
    joiner = subprocess.Popen([sys.executable, "-c", JOINER, bootstrap, group, topic, "10"])
    try:
        await _until(lambda: app.consumer_generation_id >= first + 2, 90, "the second member came and went")
        assert joiner.wait(timeout=60) == 0
    finally:
        joiner.kill()


def test_an_event_finished_after_its_partition_came_back_is_left_to_its_copy(broker: str) -> None:
    run = uuid.uuid4().hex[:8]
    group, topic = f"stale-acks-{run}", f"stale.acks.{run}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    rt = SimpleNamespace(counts=Counter[str]())
    seen: list[tuple[int, int, int | None]] = []  # (partition, offset, generation)
    gates = [asyncio.Event(), asyncio.Event()]  # the event held through the rebalance, its copy

    def owned(app: faust.App) -> list[int]:
        return sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)

    async def scenario() -> tuple[int | None, list[int | None]]:
        app = faust.App(
            group, broker=f"kafka://{broker}", store="memory://", web_enabled=False,
            stream_wait_empty=False, broker_commit_interval=0.5, broker_session_timeout=6,
            broker_heartbeat_interval=1,
        )  # fmt: skip

        @app.agent(app.topic(topic, key_serializer="raw", value_serializer="raw", partitions=2))
        async def work(stream: Any) -> None:
            async for event in stream.noack().events():
                message = event.message
                seen.append((message.partition, message.offset, message.generation_id))
                held = [s for s in seen if s[0] == 0]
                if message.partition == 0 and len(held) <= len(gates):
                    await gates[len(held) - 1].wait()
                await ack_fetched(app, rt, stream, [event])  # type: ignore[arg-type]

        await app.start()
        try:
            await _until(
                lambda: app.consumer_generation_id > 0 or bool(app.consumer.assignment()), 60, "joined"
            )
            _publish_one_per_partition(broker, topic)
            await _until(lambda: bool(seen), 60, "the first event")
            await _second_member_comes_and_goes(app, broker, group, topic)
            await _until(
                lambda: len(owned(app)) == 2 and app.flow_control.is_active(),
                30,
                lambda: (
                    f"partition 0 back: owns {owned(app)}, generation {app.consumer_generation_id}, {seen}"
                ),
            )
            gates[0].set()  # the held event finishes under the new assignment
            await _until(lambda: len([s for s in seen if s[0] == 0]) == 2, 30, "partition 0 read again")
            await asyncio.sleep(2.5)  # commits every 0.5 s
            its_copy_is_held = _committed(broker, group, topic, 0)
            gates[1].set()
            await _until(lambda: _committed(broker, group, topic, 0) == 1, 30, "the copy committed")
            return its_copy_is_held, [_committed(broker, group, topic, p) for p in (0, 1)]
        finally:
            gates[0].set()
            gates[1].set()
            await app.stop()

    while_held, after = asyncio.run(asyncio.wait_for(scenario(), timeout=240))
    assert while_held is None, f"offset {while_held} committed while the copy of offset 0 was being worked on"
    assert after == [1, 1]
    assert rt.counts["acks.stale"] == 1, seen
    generations = [g for p, _, g in seen if p == 0]
    assert generations[0] != generations[1], seen
