"""The HTML report inside an evidence bundle: one self-contained page, readable without ClaimWatch.

Bilingual headings (Chinese / English), no scripts and no external resources; audio clips play
from the bundle's ``audio/`` folder once the zip is extracted. The page ends with how to check
the bundle with standard tools (sha256sum, openssl).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

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


def render_report(
    cases: Sequence[Case], files: Mapping[str, bytes], meta: Mapping[str, Any], *, language: str = "zh"
) -> bytes:
    """The report page as UTF-8 bytes."""
    audio = {c.event_id: f"audio/{c.event_id}.wav" for c in cases if f"audio/{c.event_id}.wav" in files}
    notes = {
        c.event_id: files.get(f"audio/{c.event_id}.missing.txt", b"").decode("utf-8", "replace")
        for c in cases
    }
    hashes = [(p, hashlib.sha256(files[p]).hexdigest(), len(files[p])) for p in sorted(files)]
    html = _ENV.get_template("evidence_report.html").render(
        cases=cases,
        meta=meta,
        audio=audio,
        notes=notes,
        hashes=hashes,
        label=label,
        severity_label=severity_label,
        fmt=_fmt,
        language=language,
    )
    return html.encode("utf-8")
