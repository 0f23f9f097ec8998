"""Alerts: message formats, DingTalk signing, retries, and never blocking the stream."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pipeline.errors import ConfigError
from pipeline.records import Violation
from pipeline.reporting.alerts import AlertSender, AlertTarget, load_targets, message, render

V = Violation(
    "ev1", "demo-001", "anchor-xiaomei", "mcn-starlight", "claim", "price", "high",
    datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC), 30.0, 33.5, "speech", listing_id="L1",
    text="这个价格是全网最低价", term="全网最低价", rule_id="PRICE-001", legal_basis="价格法第十四条",
    rewrite="直播间专享价",
)  # fmt: skip


def test_message_is_chinese_and_complete() -> None:
    text = message(V)
    assert "价格违法宣传" in text
    assert "2026-11-20 20:00:30" in text  # shown in China time
    assert "开播后 0:00:30" in text
    assert "“这个价格是全网最低价”" in text
    assert "价格法第十四条" in text
    assert "建议改为：直播间专享价" in text


def test_a_claim_off_the_approved_card_says_so() -> None:
    off = replace(V, off_card=True)
    assert "价格违法宣传（卡外）" in message(off)
    assert "卡外" not in message(V)
    ding = render(off, AlertTarget("m", "http://x/robot?access_token=t", "dingtalk")).body
    assert ding["markdown"]["title"] == "违规提醒：价格违法宣传（卡外）"
    # a statement the card does not make is its own category: not marked twice
    statement = replace(V, kind="ledger", category="off_card", off_card=True)
    assert "卖点卡外宣称（" in message(statement)
    assert "（卡外）" not in message(statement)


def test_formats() -> None:
    generic = render(V, AlertTarget("m", "http://x/hook")).body
    assert generic["violation"]["event_id"] == "ev1"
    wecom = render(V, AlertTarget("m", "http://x/hook", "wecom")).body
    assert wecom["msgtype"] == "markdown"
    assert "全网最低价" in wecom["markdown"]["content"]
    ding = render(V, AlertTarget("m", "http://x/robot?access_token=t", "dingtalk")).body
    assert ding["markdown"]["title"].startswith("违规提醒")


def test_dingtalk_signature_verifies() -> None:
    target = AlertTarget("m", "https://oapi.dingtalk.com/robot/send?access_token=t", "dingtalk", "SECabc")
    url = render(V, target, now_ms=1700000000000).url
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["timestamp"] == ["1700000000000"]
    expected = hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()
    assert base64.b64decode(query["sign"][0]) == expected


def test_severity_threshold() -> None:
    target = AlertTarget("m", "http://x", min_severity="high")
    assert target.wants(V)
    assert not target.wants(replace(V, severity="medium"))


def test_load_targets(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "mcn-a:\n  - url: http://hook/a\n    format: wecom\n"
        "mcn-b:\n  url: https://hook/b\n  min_severity: medium\n"
    )
    targets = load_targets(path)
    assert targets["mcn-a"] == [AlertTarget("mcn-a", "http://hook/a", "wecom")]
    assert targets["mcn-b"][0].min_severity == "medium"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("mcn-a:\n  - format: json\n", "needs a `url`"),
        ("mcn-a:\n  - url: ftp://x\n", "http:// or https://"),
        ("mcn-a:\n  - url: http://x\n    format: slack\n", "format must be"),
        ("mcn-a:\n  - url: http://x\n    colour: red\n", "unknown key"),
        ("- just a list\n", "expected a mapping"),
        ("mcn-a: [\n", "cannot read"),
    ],
)
def test_bad_targets_file_names_the_entry(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=reason):
        load_targets(path)


class Hook:
    """A real local HTTP server that records what it receives; behaviour per request is scripted."""

    def __init__(self, replies: list[Callable[[], Any]]) -> None:
        self.replies = replies
        self.received: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        reply = self.replies[min(len(self.received), len(self.replies)) - 1]
        result = reply()
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, web.Response)
        return result


@asynccontextmanager
async def serve_ctx(replies: list[Callable[[], Any]]) -> AsyncIterator[Hook]:
    """Serve a Hook on a free loopback port for the duration of the block."""
    hook = Hook(replies)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield hook
    finally:
        await runner.cleanup()


def ok() -> web.Response:
    return web.json_response({"errcode": 0})


def test_retries_until_accepted() -> None:
    async def scenario() -> None:
        async with serve_ctx(
            [lambda: web.Response(status=500), lambda: web.json_response({"errcode": 310000}), ok]
        ) as hook:
            sender = AlertSender(
                {"mcn-starlight": [AlertTarget("mcn-starlight", hook.url, "dingtalk")]}, backoff_s=0.01
            )
            sender.start()
            assert sender.submit(V) == 1
            await asyncio.wait_for(sender.drain(), 10)
            await sender.close()
            assert len(hook.received) == 3
            assert (sender.sent, sender.failed) == (1, 0)

    asyncio.run(scenario())


def test_gives_up_after_bounded_attempts() -> None:
    async def scenario() -> None:
        async with serve_ctx([lambda: web.Response(status=503)]) as hook:
            sender = AlertSender(
                {"mcn-starlight": [AlertTarget("mcn-starlight", hook.url)]}, attempts=3, backoff_s=0.01
            )
            sender.start()
            sender.submit(V)
            await asyncio.wait_for(sender.drain(), 10)
            await sender.close()
            assert len(hook.received) == 3
            assert (sender.sent, sender.failed) == (0, 1)

    asyncio.run(scenario())


def test_slow_webhook_never_blocks_submit_and_arrives_within_seconds() -> None:
    async def slow() -> web.Response:
        await asyncio.sleep(1.0)
        return ok()

    async def scenario() -> None:
        async with serve_ctx([slow]) as hook:
            sender = AlertSender({"mcn-starlight": [AlertTarget("mcn-starlight", hook.url)]})
            sender.start()
            started = time.monotonic()
            for i in range(20):
                sender.submit(replace(V, event_id=f"ev{i}"))
            assert time.monotonic() - started < 0.05  # submit does not wait on the network
            await asyncio.wait_for(sender.drain(), 15)
            elapsed = time.monotonic() - started
            await sender.close()
            assert sender.sent == 20
            assert elapsed < 8  # four at a time
            assert {body["violation"]["event_id"] for body in hook.received} == {f"ev{i}" for i in range(20)}

    asyncio.run(scenario())


def test_other_mcns_and_low_severity_are_not_sent() -> None:
    sender = AlertSender({"mcn-other": [AlertTarget("mcn-other", "http://127.0.0.1:9/hook")]})
    assert sender.submit(V) == 0
    sender = AlertSender({"mcn-starlight": [AlertTarget("mcn-starlight", "http://127.0.0.1:9/hook")]})
    assert sender.submit(replace(V, severity="low")) == 0


def test_a_redelivered_violation_alerts_once() -> None:
    # at-least-once delivery: a worker that restarts or takes over a partition reads a violation
    # again; the officer's phone must not ring twice for it
    async def scenario() -> None:
        async with serve_ctx([ok]) as hook:
            targets = {"mcn-starlight": [AlertTarget("mcn-starlight", hook.url)]}
            sender = AlertSender(targets, remember=2)
            sender.start()
            assert sender.submit(V) == 1
            assert sender.submit(V) == 0  # the same event again
            for i in range(3):
                sender.submit(replace(V, event_id=f"other{i}"))
            await asyncio.wait_for(sender.drain(), 10)
            assert sender.submit(replace(V, event_id="other2")) == 0  # still remembered
            await sender.close()
            assert [body["violation"]["event_id"] for body in hook.received].count("ev1") == 1
            assert (sender.sent, sender.duplicates) == (4, 2)
            assert len(sender.seen) == 2  # bounded: the oldest are forgotten

    asyncio.run(scenario())


def test_an_alert_that_failed_is_sent_when_its_violation_comes_again() -> None:
    async def scenario() -> None:
        async with serve_ctx(
            [lambda: web.Response(status=503), lambda: web.Response(status=503), ok]
        ) as hook:
            sender = AlertSender({"mcn-starlight": [AlertTarget("mcn-starlight", hook.url)]}, attempts=2)
            sender.backoff_s = 0.01
            sender.start()
            sender.submit(V)
            await asyncio.wait_for(sender.drain(), 10)
            assert sender.submit(V) == 1  # it gave up: a redelivery tries again
            await asyncio.wait_for(sender.drain(), 10)
            await sender.close()
            assert (sender.sent, sender.failed) == (1, 1)

    asyncio.run(scenario())


def test_shutdown_delivers_what_is_queued_within_its_bound_and_says_what_was_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def slow() -> web.Response:
        await asyncio.sleep(0.6)
        return ok()

    async def scenario() -> None:
        async with serve_ctx([slow]) as hook:
            sender = AlertSender({"mcn-starlight": [AlertTarget("mcn-starlight", hook.url)]})
            sender.start()
            for i in range(4):
                sender.submit(replace(V, event_id=f"ev{i}"))
            assert not sender.idle
            await sender.finish(within_s=10)  # four at a time: all four go out before it closes
            assert (sender.sent, sender.idle) == (4, True)
            assert len(hook.received) == 4

            late = AlertSender({"mcn-starlight": [AlertTarget("mcn-starlight", hook.url)]})
            late.start()
            for i in range(12):
                late.submit(replace(V, event_id=f"late{i}"))
            await late.finish(within_s=1.0)  # 3 rounds of 0.6 s needed: only the first is in time
            assert 0 < late.sent < 12

    with caplog.at_level(logging.ERROR, logger="pipeline.reporting.alerts"):
        asyncio.run(scenario())
    assert any("alerts not delivered within 1.0 s of shutdown" in r.getMessage() for r in caplog.records)
