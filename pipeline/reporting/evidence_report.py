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
    """A time as the console shows it (the zone's wall clock); anything else as it is."""
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
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


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
        fmt=_fmt,
        local=lambda v: _local(v, zone),
        timezone=timezone,
        utc_offset=f"{datetime.now(zone):%z}",
        language=language,
    )
    return html.encode("utf-8")
