"""The broker topics and what flows on them (DESIGN.md §1). Keys are stream ids unless noted.

=====================  ==========================================  ========================
topic                  records                                     key
=====================  ==========================================  ========================
``streams``            :class:`StreamInfo` (start; again at end)   stream_id
``audio.chunks``       :class:`AudioChunk`: one speech piece each  stream_id
``listings``           :class:`ListingEvent`                       stream_id
``…-ledger-changelog``  :class:`LedgerEntry` (compacted)            ``mcn_id/product_id``
``transcripts``        :class:`TranscriptSegment`                  stream_id
``violations``         :class:`Violation`                          stream_id
``deadletter``         :class:`DeadLetter`                         original key
``…-stage-changelog``  the workers' stage table (faust)            stream_id
=====================  ==========================================  ========================

Stream-keyed topics have the same partition count, so one worker owns all of a stream's
partitions (faust assigns co-partitioned topics together) and keeps its state in one place.
:func:`layout` declares every topic with the partitions it must have; `claimwatch topics status`
compares the broker with it, and producers and workers refuse to run on a broker that differs (a
broker that creates a topic on first use gives it its own default, not ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

APP_ID: Final = "claimwatch"  # the workers' consumer group

STREAMS: Final = "streams"
AUDIO: Final = "audio.chunks"
LISTINGS: Final = "listings"
# The ledger topic: compacted, keyed by MCN and product; every worker follows all of it with a
# consumer of no group (pipeline/stream/ledger_feed.py). Its name is the one it had as the
# changelog of a faust global table, so existing deployments keep their ledger.
LEDGER: Final = f"{APP_ID}-ledger-changelog"
TRANSCRIPTS: Final = "transcripts"
VIOLATIONS: Final = "violations"
DEADLETTER: Final = "deadletter"
STAGE: Final = f"{APP_ID}-stage-changelog"  # the changelog of the workers' `stage` table (app.py)

STREAM_KEYED: Final = (STREAMS, AUDIO, LISTINGS, TRANSCRIPTS, VIOLATIONS)
MONITORED: Final = (STREAMS, LISTINGS)  # what the monitor agent checks (audio has its own agent)


def ledger_key(mcn_id: str, product_id: str) -> str:
    """The key of a ledger row on the compacted ledger topic."""
    return f"{mcn_id}/{product_id}"


@dataclass(frozen=True)
class TopicSpec:
    """A topic as ClaimWatch needs it."""

    name: str
    partitions: int
    compacted: bool = False


def layout(partitions: int) -> tuple[TopicSpec, ...]:
    """Every topic, with ``partitions`` (the ``topic_partitions`` setting) for the stream-keyed ones
    and the stage table's changelog, which faust requires to match its source topics."""
    return (
        *(TopicSpec(name, partitions) for name in STREAM_KEYED),
        TopicSpec(STAGE, partitions, compacted=True),
        TopicSpec(LEDGER, 1, compacted=True),
        TopicSpec(DEADLETTER, 1),
    )
