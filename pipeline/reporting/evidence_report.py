"""The HTML report inside an evidence bundle: one self-contained page, readable without ClaimWatch.

Bilingual headings (Chinese / English), no scripts and no external resources; audio clips play
from the bundle's ``audio/`` folder once the zip is extracted. The page ends with how to check
the bundle with standard tools (sha256sum, openssl).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline.reporting.casefile import Case
from pipeline.reporting.categories import label, severity_label
from pipeline.reporting.lifecycle import state_name

_ENV = Environment(
    loader=PackageLoader("pipeline.reporting", "templates"), autoescape=select_autoescape(default=True)
)


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in sorted(value.items()))
    return "—" if value is None else str(value)


def _local(value: Any, zone: ZoneInfo) -> str:
    """A time as the console shows it (the zone's wall clock), stated with its UTC offset on that
    date (a zone with summer time has two); anything else as it is."""
    when = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(when, datetime):
        return _fmt(value)
    if when.tzinfo is None:  # the warehouse's times are UTC
        when = when.replace(tzinfo=UTC)
    there = when.astimezone(zone)
    return f"{there:%Y-%m-%d %H:%M:%S} ({utc_offset(there)})"


def utc_offset(when: datetime) -> str:
    """``UTC+08:00`` for an aware time (``UTC+00:00`` in UTC)."""
    offset = when.utcoffset()
    if offset is None:
        raise ValueError(f"{when!r} has no time zone")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _created_at(meta: Mapping[str, Any]) -> datetime:
    created = meta.get("created_at")
    when = datetime.fromisoformat(created) if isinstance(created, str) else created
    if not isinstance(when, datetime):
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def render_report(
    cases: Sequence[Case],
    entries: Sequence[Mapping[str, Any]],
    notes: Mapping[str, str],
    meta: Mapping[str, Any],
    *,
    language: str = "zh",
    timezone: str,
) -> bytes:
    """The report page as UTF-8 bytes, its times in ``timezone``'s wall clock (named on the page).

    ``entries`` are the files written so far as the manifest lists them (``path``, ``sha256``,
    ``bytes``), ``notes`` why a violation has no clip (by event id): the files themselves are
    already in the zip, not in memory."""
    zone = ZoneInfo(timezone)
    paths = {str(e["path"]) for e in entries}
    audio = {c.event_id: f"audio/{c.event_id}.wav" for c in cases if f"audio/{c.event_id}.wav" in paths}
    hashes = [(e["path"], e["sha256"], e["bytes"]) for e in sorted(entries, key=lambda e: str(e["path"]))]
    html = _ENV.get_template("evidence_report.html").render(
        cases=cases,
        meta=meta,
        audio=audio,
        notes=notes,
        hashes=hashes,
        label=label,
        severity_label=severity_label,
        state_name=state_name,
        fmt=_fmt,
        local=lambda v: _local(v, zone),
        timezone=timezone,
        utc_offset=utc_offset(_created_at(meta).astimezone(zone)),
        language=language,
    )
    return html.encode("utf-8")
