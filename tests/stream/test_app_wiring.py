"""The faust wiring: each agent consumes exactly the topics its body can decode."""

from __future__ import annotations

from typing import Any, cast

from pipeline.config import Settings
from pipeline.stream import agents, topics
from pipeline.stream.app import build
from pipeline.stream.runtime import Runtime


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
