"""Alerts: a high-severity violation reaches its MCN's webhook within seconds.

Targets come from a YAML file (setting ``alerts_file``) mapping each MCN to its webhooks::

    mcn-starlight:
      - url: https://oapi.dingtalk.com/robot/send?access_token=...
        format: dingtalk          # json (default) | dingtalk | wecom
        secret: SEC...            # DingTalk "加签" secret, optional
        min_severity: high        # default high

``render`` builds the request for a target (pure); ``AlertSender`` sends in the background with
retries and a bounded queue, so a slow or dead webhook never holds up the stream. Violations
arrive at least once (a restarted worker reads some again), so the sender remembers the last
``remember`` (violation, webhook) pairs it queued and alerts each once; one that failed for good
is forgotten, so a redelivery tries again. The memory is the process's: a violation redelivered
to another worker (after a rebalance) can still alert twice there.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import yaml

from pipeline import legal_basis
from pipeline.errors import ConfigError
from pipeline.records import Violation, to_dict
from pipeline.reporting.categories import severity_label, violation_label

log = logging.getLogger(__name__)

Format = Literal["json", "dingtalk", "wecom"]
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True, slots=True)
class AlertTarget:
    """One webhook of one MCN."""

    mcn_id: str
    url: str
    format: Format = "json"
    secret: str = ""
    min_severity: str = "high"

    def wants(self, violation: Violation) -> bool:
        return _SEVERITY_RANK[violation.severity] >= _SEVERITY_RANK[self.min_severity]


@dataclass(frozen=True, slots=True)
class AlertRequest:
    url: str
    body: dict[str, Any]


def load_targets(path: Path | None) -> dict[str, list[AlertTarget]]:
    """The webhooks per MCN from a YAML file; a malformed file fails naming the entry."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read alert targets ({exc})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of MCN id to a list of webhooks")
    return {
        str(mcn): [_target(path, str(mcn), i, e) for i, e in enumerate(_list(entries))]
        for mcn, entries in data.items()
    }


def _list(entries: Any) -> list[Any]:
    return entries if isinstance(entries, list) else [entries]


def _target(path: Path, mcn: str, index: int, entry: Any) -> AlertTarget:
    where = f"{path}: {mcn}[{index}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
        raise ConfigError(f"{where}: each webhook needs a `url`")
    if not entry["url"].startswith(("http://", "https://")):
        raise ConfigError(f"{where}: url must start with http:// or https://")
    fmt = entry.get("format", "json")
    if fmt not in ("json", "dingtalk", "wecom"):
        raise ConfigError(f"{where}: format must be json, dingtalk or wecom, not {fmt!r}")
    severity = entry.get("min_severity", "high")
    if severity not in _SEVERITY_RANK:
        raise ConfigError(f"{where}: min_severity must be low, medium or high")
    unknown = set(entry) - {"url", "format", "secret", "min_severity"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return AlertTarget(mcn, entry["url"], fmt, str(entry.get("secret", "")), severity)


# ---------------------------------------------------------------------------------------------
# Messages


def message(violation: Violation, zone: str = "Asia/Shanghai") -> str:
    """One line a compliance officer reads on a phone, in Chinese."""
    local = violation.ts.astimezone(ZoneInfo(zone))
    at = str(timedelta(seconds=int(violation.offset_s)))
    quoted = f"“{violation.text}”" if violation.text else ""
    parts = [
        f"【ClaimWatch 违规提醒】{violation_label(violation.category, violation.off_card)}"
        f"（{severity_label(violation.severity)}风险）",
        f"主播 {violation.anchor_id}（{violation.mcn_id}），直播 {violation.stream_id}，"
        f"{local:%Y-%m-%d %H:%M:%S}（开播后 {at}）",
    ]
    if quoted:
        read_as = f"（识别为“{violation.read_as}”）" if violation.read_as else ""
        parts.append(f"内容：{quoted}" + (f"，用语“{violation.term}”{read_as}" if violation.term else ""))
    if violation.listing_id:
        parts.append(f"商品链接：{violation.listing_id}")
    if violation.legal_basis:
        parts.append(f"依据：{legal_basis.in_language(violation.legal_basis, 'zh')}")
    if violation.rewrite:
        parts.append(f"建议改为：{violation.rewrite}")
    return "\n".join(parts)


def render(violation: Violation, target: AlertTarget, *, now_ms: int | None = None) -> AlertRequest:
    """The HTTP request that tells ``target`` about ``violation``."""
    text = message(violation)
    if target.format == "dingtalk":
        title = f"违规提醒：{violation_label(violation.category, violation.off_card)}"
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text.replace("\n", "\n\n")}}
        return AlertRequest(_dingtalk_signed(target, now_ms), body)
    if target.format == "wecom":
        return AlertRequest(target.url, {"msgtype": "markdown", "markdown": {"content": text}})
    return AlertRequest(
        target.url, {"type": "claimwatch.violation", "message": text, "violation": to_dict(violation)}
    )


def _dingtalk_signed(target: AlertTarget, now_ms: int | None) -> str:
    """DingTalk's "加签": timestamp and HMAC-SHA256 of ``timestamp\\nsecret`` in the query."""
    if not target.secret:
        return target.url
    timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(
        target.secret.encode(), f"{timestamp}\n{target.secret}".encode(), hashlib.sha256
    ).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in target.url else "?"
    return f"{target.url}{separator}timestamp={timestamp}&sign={sign}"


def accepted(response: httpx.Response) -> bool:
    """2xx, and for robot APIs an ``errcode`` of 0 in the JSON body."""
    if not response.is_success:
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    return not (isinstance(body, dict) and body.get("errcode", 0) != 0)


# ---------------------------------------------------------------------------------------------
# Sending


class AlertSender:
    """Sends alerts from a bounded queue in the background, retrying with backoff.

    ``submit`` never waits on the network. When the queue is full the alert is dropped with an
    error in the log (the violation itself is safe in the warehouse either way). A violation
    submitted again while remembered is not alerted again (counted in ``duplicates``).
    """

    def __init__(
        self,
        targets: Mapping[str, list[AlertTarget]],
        *,
        attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        queue_size: int = 1000,
        remember: int = 100_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.targets = targets
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._queue: asyncio.Queue[tuple[Violation, AlertTarget]] = asyncio.Queue(queue_size)
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self._workers: list[asyncio.Task[None]] = []
        self.remember = remember
        self.seen: OrderedDict[tuple[str, str], None] = OrderedDict()  # (event_id, url), oldest first
        self.queued = 0
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.duplicates = 0

    def start(self, concurrency: int = 4) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(concurrency)]

    def submit(self, violation: Violation) -> int:
        """Queue ``violation`` for every target that wants it; returns how many were queued."""
        queued = 0
        for target in self.targets.get(violation.mcn_id, []):
            if not target.wants(violation):
                continue
            if (violation.event_id, target.url) in self.seen:
                self.duplicates += 1
                continue
            try:
                self._queue.put_nowait((violation, target))
                queued += 1
                self.queued += 1
                self._remember(violation, target)
            except asyncio.QueueFull:
                self.dropped += 1
                log.error("alert queue full: alert for %s to %s dropped", violation.event_id, target.url)
        return queued

    def _remember(self, violation: Violation, target: AlertTarget) -> None:
        self.seen[(violation.event_id, target.url)] = None
        while len(self.seen) > self.remember:
            self.seen.popitem(last=False)

    async def drain(self) -> None:
        """Wait until every queued alert was sent or gave up."""
        await self._queue.join()

    @property
    def idle(self) -> bool:
        """Every alert queued so far was sent or gave up."""
        return self.sent + self.failed >= self.queued

    async def finish(self, within_s: float = 10.0) -> None:
        """On shutdown: deliver what is queued (for at most ``within_s``), then close."""
        try:
            await asyncio.wait_for(self.drain(), within_s)
        except TimeoutError:
            log.error(
                "%d alerts not delivered within %.1f s of shutdown",
                self.queued - self.sent - self.failed,
                within_s,
            )
        await self.close()

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self._client.aclose()

    async def _work(self) -> None:
        while True:
            violation, target = await self._queue.get()
            try:
                await self._deliver(violation, target)
            finally:
                self._queue.task_done()

    async def _deliver(self, violation: Violation, target: AlertTarget) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            request = render(violation, target)
            try:
                response = await self._client.post(request.url, json=request.body)
                if accepted(response):
                    self.sent += 1
                    return
                problem = f"HTTP {response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                log.warning(
                    "alert to %s failed (%s); retry %d in %.1f s", target.url, problem, attempt, delay
                )
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
        self.seen.pop((violation.event_id, target.url), None)  # a redelivery may try again
        log.error(
            "alert for %s to %s failed after %d attempts", violation.event_id, target.url, self.attempts
        )
