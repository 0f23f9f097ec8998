"""The bundled sample scenario (see README.md here): what `claimwatch demo` streams."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SAMPLE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Sample:
    """The scenario's files and facts."""

    stream_id: str
    anchor_id: str
    mcn_id: str
    started_at: datetime
    audio: Path
    listings: Path
    ledger: Path
    timeline: list[dict[str, Any]]
    expected: dict[str, Any]


def load_sample(directory: Path = SAMPLE_DIR) -> Sample:
    timeline = json.loads((directory / "timeline.json").read_text(encoding="utf-8"))
    return Sample(
        stream_id=timeline["stream_id"],
        anchor_id=timeline["anchor_id"],
        mcn_id=timeline["mcn_id"],
        started_at=datetime.fromisoformat(timeline["started_at"]),
        audio=directory / "stream.ogg",
        listings=directory / "listings.jsonl",
        ledger=directory / "ledger.csv",
        timeline=timeline["segments"],
        expected=json.loads((directory / "expected.json").read_text(encoding="utf-8")),
    )
