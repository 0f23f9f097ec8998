"""Records as warehouse rows: one function per table, the only place that knows both shapes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pipeline.records import (
    LedgerEntry,
    ListingEvent,
    Review,
    StreamInfo,
    TranscriptSegment,
    Violation,
    stable_id,
    to_dict,
)

log = logging.getLogger(__name__)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def violation_row(v: Violation) -> dict[str, Any]:
    row = {f: getattr(v, f) for f in _VIOLATION_COLUMNS}
    row["evidence"] = _json(to_dict(v)["evidence"])
    return row


_VIOLATION_COLUMNS = [f for f in Violation.__dataclass_fields__ if f not in ("evidence", "extra")]


def transcript_row(seg: TranscriptSegment, stream: StreamInfo) -> dict[str, Any]:
    return {
        "segment_id": seg.segment_id,
        "stream_id": seg.stream_id,
        "anchor_id": stream.anchor_id,
        "mcn_id": stream.mcn_id,
        "ts": stream.started_at + timedelta(seconds=seg.offset_s),
        "offset_s": seg.offset_s,
        "end_offset_s": seg.end_offset_s,
        "text": seg.text,
        "no_speech_prob": seg.no_speech_prob,
        "avg_logprob": seg.avg_logprob,
        "low_confidence": seg.low_confidence,
        "model": seg.model,
    }


def listing_row(event: ListingEvent, event_id: str) -> dict[str, Any]:
    snapshot = to_dict(event)
    return {
        "event_id": event_id,
        "ts": event.ts,
        "stream_id": event.stream_id,
        "anchor_id": event.anchor_id,
        "mcn_id": event.mcn_id,
        "event": event.event,
        "listing_id": event.listing_id,
        "product_id": event.product_id,
        "title": event.title,
        "brand": event.brand,
        "category": event.category,
        "price": event.price,
        "qualifications": _json(snapshot["qualifications"]),
        "selling_points": event.selling_points or "",
        "raw": _json(snapshot),
    }


def ledger_row(entry: LedgerEntry, *, imported_at: datetime, import_id: str) -> dict[str, Any]:
    snapshot = to_dict(entry)
    return {
        "mcn_id": entry.mcn_id,
        "product_id": entry.product_id,
        "imported_at": imported_at,
        "import_id": import_id,
        "product_name": entry.product_name,
        "brand": entry.brand,
        "category": entry.category,
        "supplier": entry.supplier,
        "status": entry.status,
        "reviewed_at": entry.reviewed_at,
        "reviewer": entry.reviewer,
        "approved_claims": list(entry.approved_claims),
        "qualifications": _json(snapshot["qualifications"]),
        "test_report": entry.test_report,
        "test_report_date": entry.test_report_date,
        "raw": _json(snapshot),
        "row_hash": hashlib.sha256(_json(snapshot).encode()).hexdigest()[:32],
    }


def stream_row(stream: StreamInfo) -> dict[str, Any]:
    return {
        "stream_id": stream.stream_id,
        "anchor_id": stream.anchor_id,
        "mcn_id": stream.mcn_id,
        "started_at": stream.started_at,
        "ended_at": stream.ended_at,
        "source": stream.source,
        "audio_path": stream.audio_path,
        "end_reason": stream.end_reason,
        # The closing announcement must win over the opening one whatever order they are
        # written in: the version is the end time when there is one.
        "updated_at": stream.ended_at or stream.started_at,
    }


def listing_event_id(event: ListingEvent) -> str:
    """A listing event's deterministic id."""
    return stable_id(event.stream_id, event.listing_id, event.event, event.ts.isoformat())


def rows_for(
    record: Any, stream_info: Callable[[str], StreamInfo | None]
) -> list[tuple[str, dict[str, Any]]]:
    """The warehouse rows a record on a topic becomes: ``(table, row)`` pairs."""
    if isinstance(record, Violation):
        return [("violations", violation_row(record))]
    if isinstance(record, ListingEvent):
        return [("listings", listing_row(record, listing_event_id(record)))]
    if isinstance(record, StreamInfo):
        return [("streams", stream_row(record))]
    if isinstance(record, TranscriptSegment):
        info = stream_info(record.stream_id)
        if info is None:
            log.warning("transcript of unknown stream %s not stored", record.stream_id)
            return []
        return [("transcripts", transcript_row(record, info))]
    raise TypeError(f"no warehouse table for {type(record).__name__}")


def review_row(review: Review, *, mcn_id: str) -> dict[str, Any]:
    return {
        "review_id": review.review_id,
        "violation_id": review.violation_id,
        "mcn_id": mcn_id,
        "reviewer": review.reviewer,
        "decision": review.decision,
        "reason": review.reason,
        "reviewed_at": review.reviewed_at,
        "attachment_sha256": review.attachment_sha256,
        "attachment_name": review.attachment_name,
        "attachment_type": review.attachment_type,
        "attachment_bytes": review.attachment_bytes,
    }
