"""What the warehouse knows about violations, read within a reader's MCN scope.

:func:`load_case` gathers one violation with its context: the transcript around it, the listing
card and the ledger row *as they stood at the violation's time*, the stream (and its archived
audio) and the review history. :func:`load_cases` gathers many in six queries per hundred (an
evidence bundle's month); :func:`load_case` is one of them.
:func:`find_violations` lists violations with their latest review.
The console's pages and the evidence bundles both read through here, so both see the same facts
and both are scoped the same way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.reporting.lifecycle import ACTOR, RESULT, State, state_of
from pipeline.reporting.scope import Period, Scope, scoped_query
from pipeline.warehouse import Store

VIOLATION_COLUMNS = (
    "event_id, stream_id, anchor_id, mcn_id, kind, category, severity, ts, offset_s, end_offset_s, "
    "source, listing_id, product_id, text, term, read_as, rule_id, legal_basis, lexicon_version, rewrite, "
    "off_card, "
    "evidence"
)
REVIEWER_SHOWN = "certifier"  # who reviewed, as a reader limited to some MCNs sees it: the role,
# not the user name (an officer has no need of the certifier's login name, and could aim at it)
LATEST_REVIEWS_SQL = (
    "SELECT violation_id, argMax(decision, (reviewed_at, review_id)) AS decision, "
    "argMax(reason, (reviewed_at, review_id)) AS reason, "
    "argMax(reviewer, (reviewed_at, review_id)) AS reviewer, "
    "max(reviewed_at) AS last_reviewed_at FROM reviews FINAL WHERE {scope} AND has(%(ids)s, violation_id) "
    "GROUP BY violation_id"
)


@dataclass(frozen=True, slots=True)
class Case:
    """One violation and the facts around it."""

    violation: dict[str, Any]
    stream: dict[str, Any] | None
    transcript: list[dict[str, Any]]
    listing: dict[str, Any] | None
    ledger: dict[str, Any] | None
    reviews: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_id(self) -> str:
        return str(self.violation["event_id"])

    @property
    def decision(self) -> str | None:
        """The latest review decision (a lifecycle action: ``confirm`` ... ``overturn``), None
        when not reviewed."""
        return str(self.reviews[-1]["decision"]) if self.reviews else None

    @property
    def state(self) -> State:
        """Where the violation stands in the review lifecycle (``pending`` when not reviewed)."""
        return state_of(self.decision)

    @property
    def audio_path(self) -> str:
        return str(self.stream["audio_path"]) if self.stream else ""

    def clip_bounds(self, padding_s: float) -> tuple[float, float]:
        """The clip of the violation: its sentence (for speech) with ``padding_s`` either side."""
        v = self.violation
        return max(0.0, float(v["offset_s"]) - padding_s), float(v["end_offset_s"]) + padding_s


def load_case(store: Store, scope: Scope, event_id: str, *, context_s: float = 30.0) -> Case | None:
    """The violation with this id if the scope allows it, with its context; else None."""
    return load_cases(store, scope, [event_id], context_s=context_s).get(event_id)


BATCH = 100  # violations per round of load_cases' queries (the transcript query names each one)


def load_cases(
    store: Store, scope: Scope, event_ids: Sequence[str], *, context_s: float = 30.0
) -> dict[str, Case]:
    """The cases of these ids that the scope allows, by id (the others are left out), in six
    queries per :data:`BATCH` violations. The listing card and the ledger row at each violation's
    time are picked here from the rows of its listing and product: the latest at or before it."""
    cases: dict[str, Case] = {}
    wanted = list(dict.fromkeys(event_ids))
    for at in range(0, len(wanted), BATCH):
        cases.update(_load_batch(store, scope, wanted[at : at + BATCH], context_s))
    return cases


def _load_batch(store: Store, scope: Scope, ids: list[str], context_s: float) -> dict[str, Case]:
    found: dict[str, dict[str, Any]] = {}
    for row in scoped_query(
        store,
        f"SELECT {VIOLATION_COLUMNS} FROM violations FINAL WHERE has(%(ids)s, event_id) AND {{scope}}",
        scope,
        {"ids": ids},
    ):
        found.setdefault(row["event_id"], row)
    if not found:
        return {}
    violations = [found[i] for i in ids if i in found]
    for v in violations:
        v["evidence"] = _parse(v["evidence"])
    streams = _streams_of(store, scope, violations)
    transcripts = _transcripts_of(store, scope, violations, context_s)
    listings = _listings_of(store, scope, violations)
    ledgers = _ledgers_of(store, scope, violations)
    reviews = _reviews_of(store, scope, [v["event_id"] for v in violations])
    return {
        v["event_id"]: Case(
            violation=v,
            stream=streams.get(v["stream_id"]),
            transcript=transcripts[v["event_id"]],
            listing=listings.get(v["event_id"]),
            ledger=ledgers.get(v["event_id"]),
            reviews=reviews.get(v["event_id"], []),
        )
        for v in violations
    }


def _streams_of(store: Store, scope: Scope, vs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rows = scoped_query(
        store,
        "SELECT stream_id, anchor_id, mcn_id, started_at, ended_at, source, audio_path FROM streams FINAL "
        "WHERE has(%(s)s, stream_id) AND {scope}",
        scope,
        {"s": sorted({v["stream_id"] for v in vs})},
    )
    streams: dict[str, dict[str, Any]] = {}
    for row in rows:
        streams.setdefault(row["stream_id"], row)
    return streams


def _transcripts_of(
    store: Store, scope: Scope, vs: list[dict[str, Any]], context_s: float
) -> dict[str, list[dict[str, Any]]]:
    """Each violation's transcript lines (±context_s), from one query naming every window."""
    params: dict[str, Any] = {}
    windows = []
    for n, v in enumerate(vs):
        a, b = float(v["offset_s"]) - context_s, float(v["end_offset_s"]) + context_s
        params.update({f"s{n}": v["stream_id"], f"a{n}": a, f"b{n}": b})
        windows.append(f"(stream_id = %(s{n})s AND end_offset_s >= %(a{n})s AND offset_s <= %(b{n})s)")
    rows = scoped_query(
        store,
        "SELECT stream_id, segment_id, offset_s, end_offset_s, ts, text, low_confidence FROM transcripts "
        f"FINAL WHERE ({' OR '.join(windows)}) AND {{scope}} ORDER BY stream_id, offset_s, segment_id",
        scope,
        params,
    )
    by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_stream[row.pop("stream_id")].append(row)
    out: dict[str, list[dict[str, Any]]] = {}
    for n, v in enumerate(vs):
        a, b = params[f"a{n}"], params[f"b{n}"]
        lines = by_stream.get(v["stream_id"], [])
        out[v["event_id"]] = [dict(r) for r in lines if r["end_offset_s"] >= a and r["offset_s"] <= b]
    return out


def _listings_of(store: Store, scope: Scope, vs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each violation's listing card: its listing's latest event at or before the violation."""
    linked = [v for v in vs if v.get("listing_id")]
    if not linked:
        return {}
    rows = scoped_query(
        store,
        "SELECT stream_id, event_id, ts, event, listing_id, raw FROM listings FINAL "
        "WHERE has(%(s)s, stream_id) AND has(%(l)s, listing_id) AND ts <= %(t)s AND {scope}",
        scope,
        {
            "s": sorted({v["stream_id"] for v in linked}),
            "l": sorted({v["listing_id"] for v in linked}),
            "t": max(v["ts"] for v in linked),
        },
    )
    events: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        events[(row.pop("stream_id"), row["listing_id"])].append(row)
    out = {}
    for v in linked:
        before = [r for r in events.get((v["stream_id"], v["listing_id"]), []) if r["ts"] <= v["ts"]]
        if before:
            out[v["event_id"]] = _with_raw(max(before, key=lambda r: (r["ts"], r["event_id"])))
    return out


def _ledgers_of(store: Store, scope: Scope, vs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each violation's ledger row: its product's latest import at or before the violation."""
    linked = [v for v in vs if v.get("product_id")]
    if not linked:
        return {}
    rows = scoped_query(
        store,
        "SELECT mcn_id, product_id, imported_at, import_id, status, raw, row_hash FROM ledger FINAL "
        "WHERE has(%(m)s, mcn_id) AND has(%(p)s, product_id) AND imported_at <= %(t)s AND {scope}",
        scope,
        {
            "m": sorted({v["mcn_id"] for v in linked}),
            "p": sorted({v["product_id"] for v in linked}),
            "t": max(v["ts"] for v in linked),
        },
    )
    imports: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        imports[(row["mcn_id"], row["product_id"])].append(row)
    out = {}
    for v in linked:
        before = [r for r in imports.get((v["mcn_id"], v["product_id"]), []) if r["imported_at"] <= v["ts"]]
        if before:
            out[v["event_id"]] = _with_raw(max(before, key=lambda r: (r["imported_at"], r["import_id"])))
    return out


def _reviews_of(store: Store, scope: Scope, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = scoped_query(
        store,
        "SELECT violation_id, review_id, reviewer, decision, reason, reviewed_at, attachment_sha256, "
        "attachment_name, attachment_type, attachment_bytes FROM reviews FINAL "
        "WHERE has(%(ids)s, violation_id) AND {scope} ORDER BY reviewed_at, review_id",
        scope,
        {"ids": ids},
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        vid = row.pop("violation_id")
        # each row is one lifecycle transition: the role that made it and the state it left
        row["role"] = ACTOR.get(row["decision"], "certifier")
        row["state"] = RESULT.get(row["decision"], row["decision"])
        if scope.mcn_ids is not None and row["role"] == "certifier":
            row["reviewer"] = REVIEWER_SHOWN  # an officer's own MCN's names stay as they are
        out[vid].append(row)
    return out


def _with_raw(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "raw": _parse(row["raw"])}


def _parse(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"unparsed": text}


def find_violations(
    store: Store,
    scope: Scope,
    *,
    period: Period | None = None,
    anchor_id: str | None = None,
    stream_id: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Violations in scope, newest first, each with its latest review (``decision`` etc.)."""
    where: list[str] = ["{scope}"]
    params: dict[str, Any] = {"limit": int(limit)}
    for column, value in (("anchor_id", anchor_id), ("stream_id", stream_id)):
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = value
    if period is not None:
        where.append("ts >= %(start)s AND ts < %(end)s")
        params.update(period.params())
    if since is not None:
        where.append("inserted_at > %(since)s")
        params["since"] = since
    rows = scoped_query(
        store,
        f"SELECT {VIOLATION_COLUMNS}, inserted_at FROM violations FINAL WHERE {' AND '.join(where)} "
        "ORDER BY ts DESC, event_id LIMIT %(limit)s",
        scope,
        params,
    )
    return _with_reviews(store, scope, rows)


def _with_reviews(store: Store, scope: Scope, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    latest = {
        r["violation_id"]: r
        for r in scoped_query(store, LATEST_REVIEWS_SQL, scope, {"ids": [r["event_id"] for r in rows]})
    }
    for row in rows:
        review = latest.get(row["event_id"], {})
        row["decision"] = review.get("decision")
        row["state"] = RESULT.get(str(row["decision"]), "pending")
        row["review_reason"] = review.get("reason", "")
    return rows
