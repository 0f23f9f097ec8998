"""A stream as the warehouse holds it: what a worker needs to take a stream back after a restart.

The sink stores every stream announcement and listing event before the worker acks it, so the
warehouse can always answer "who broadcasts this stream, since when, which listing events moved
its stage, and which listing checks fired" for a stream a worker has no state of (a fresh worker,
a rebalance, or a broker whose ListOffsets answers cannot be trusted, as tansu's cannot).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline.errors import RecordError
from pipeline.records import ListingEvent, StreamInfo, decode
from pipeline.warehouse import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredStream:
    """A stream's facts and its stage-moving listing events (``explain``/``off_shelf``), in order."""

    info: StreamInfo
    stage_events: list[ListingEvent]
    fired: frozenset[tuple[str, str]] = frozenset()  # (listing, check) of the listing checks stored


def stored_stream(store: Store, stream_id: str) -> StoredStream | None:
    """The stream as stored, or None when the warehouse has never seen it."""
    rows = store.query(
        "SELECT stream_id, anchor_id, mcn_id, started_at, source, audio_path, ended_at, end_reason "
        "FROM streams FINAL WHERE stream_id = %(s)s",
        {"s": stream_id},
    )
    if not rows:
        return None
    events = store.query(
        "SELECT raw FROM listings FINAL WHERE stream_id = %(s)s AND event IN ('explain', 'off_shelf') "
        "ORDER BY ts, event_id",
        {"s": stream_id},
    )
    fired = store.query(  # what the listing checks fired: their violations (speech claims are none)
        "SELECT DISTINCT ifNull(listing_id, '') AS listing_id, category FROM violations FINAL "
        "WHERE stream_id = %(s)s AND ifNull(listing_id, '') != '' "
        "AND NOT (kind = 'claim' AND source = 'speech')",
        {"s": stream_id},
    )
    return StoredStream(
        StreamInfo(**rows[0]),
        [e for row in events if (e := _event(stream_id, row["raw"]))],
        frozenset((str(r["listing_id"]), str(r["category"])) for r in fired),
    )


def _event(stream_id: str, raw: str) -> ListingEvent | None:
    """A stored listing event, or None (logged) for one stored before the edge refused its like
    (a control character in its title, say): restoring the stream must not fail on it."""
    try:
        return decode(ListingEvent, raw)
    except RecordError as exc:
        log.warning("stream %s: a stored listing event is left out of its restore (%s)", stream_id, exc)
        return None
