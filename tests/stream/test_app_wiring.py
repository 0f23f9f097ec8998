"""The faust wiring: each agent consumes exactly the topics its body can decode."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest

from pipeline.config import Settings
from pipeline.errors import WarehouseUnavailable
from pipeline.stream import agents, topics
from pipeline.stream.app import build
from pipeline.stream.runtime import Runtime
from pipeline.warehouse.sink import BatchingSink


def _subscriptions(tmp_path: Any) -> dict[str, set[str]]:
    settings = Settings(data_dir=tmp_path)
    runtime = cast(Any, Runtime)(settings=settings, store=None, monitor=None, transcriber=None, sink=None)
    app = build(settings, "127.0.0.1:9", runtime)  # builds only: nothing connects
    return {
        name.rsplit(".", 1)[-1]: set(agent.channel.topics)  # type: ignore[attr-defined]
        for name, agent in app.agents.items()
    }


def test_monitor_consumes_only_the_records_it_decodes(tmp_path: Any) -> None:
    subs = _subscriptions(tmp_path)
    assert subs["monitor"] == set(topics.MONITORED) == set(agents.RECORD_TYPES)


def test_each_stream_topic_has_one_consuming_agent(tmp_path: Any) -> None:
    subs = _subscriptions(tmp_path)
    assert subs["transcribe"] == {topics.AUDIO}
    assert subs["alert"] == {topics.VIOLATIONS}
    consumed = [t for names in subs.values() for t in names]
    assert len(consumed) == len(set(consumed)), consumed  # no topic read by two agents
    assert topics.TRANSCRIPTS not in consumed  # published for dashboards, not consumed here


class Down(BatchingSink):
    """A sink whose warehouse is down (its batches are written nowhere)."""

    def write(self, table: str, rows: list[Any]) -> None:
        raise WarehouseUnavailable("down")


def test_shutdown_stops_the_sink_waiting_out_an_outage(tmp_path: Any) -> None:
    # SIGTERM stops the app; a sink waiting for the warehouse in its thread must stop waiting,
    # or the process cannot exit until the warehouse is back
    settings = Settings(data_dir=tmp_path)
    sink = Down(cast(Any, None))
    runtime = cast(Any, Runtime)(settings=settings, store=None, monitor=None, transcriber=None, sink=sink)
    app = build(settings, "127.0.0.1:9", runtime)  # builds only: nothing connects
    asyncio.run(app.on_before_shutdown.send())
    started = time.monotonic()
    sink.add("violations", {"event_id": "e1"})
    with pytest.raises(WarehouseUnavailable, match="stopped"):
        sink.flush_until_done(backoff_s=60.0)  # fails once; no 60 s wait follows
    assert time.monotonic() - started < 5
