"""`claimwatch demo`: the bundled sample stream through the streaming pipeline, on embedded parts.

No servers to start: the embedded broker (tansu) and warehouse (chdb) run inside this process,
with one worker (the faust app, in-process). The sample's ledger is imported, its listing events
and audio are ingested, the worker transcribes, detects, checks and stores; then the violations
and a summary per kind are printed. The command (``claimwatch demo``) then serves the console on
the same warehouse, unless ``--no-serve``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import ServiceError
from pipeline.ledger.files import read_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.records import StreamInfo
from pipeline.reporting.categories import label
from pipeline.sample import Sample, load_sample
from pipeline.speech import models
from pipeline.stream.app import build, running
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.ingest import AudioIngest, ingest_audio, ingest_listings
from pipeline.stream.publish import Publisher, ensure_topics, publish_ledger
from pipeline.stream.runtime import Runtime, create_runtime
from pipeline.warehouse import Store, open_store
from pipeline.warehouse.ledger import save_import

Say = Callable[[str], None]
EMBEDDED_SESSION_TIMEOUT_S = 6.0


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What streaming the sample gave."""

    ingest: AudioIngest
    violations: list[dict[str, Any]]
    elapsed_s: float


@contextmanager
def demo_session(settings: Settings, *, realtime: bool, say: Say) -> Iterator[tuple[Store, DemoRun]]:
    """The sample streamed and reported; yields the warehouse (still open) and what the run gave.

    The embedded broker and warehouse live as long as the ``with`` block, so the caller can serve
    the console on the same warehouse (chdb allows one process per data directory)."""
    with ExitStack() as stack:
        bootstrap = settings.broker_url
        if not bootstrap:
            say("starting the embedded broker (tansu)…")
            broker = EmbeddedBroker(log_path=_log_path(settings)).start()
            stack.callback(broker.stop)
            bootstrap = broker.bootstrap
            # One worker on a private broker: no need to wait out a long group session.
            settings = settings.model_copy(update={"broker_session_timeout_s": EMBEDDED_SESSION_TIMEOUT_S})
        store = stack.enter_context(open_store(settings))
        say(f"warehouse: {store.kind} at {store.location}")
        result = stream_sample(settings, store, bootstrap, realtime=realtime, say=say)
        print_report(result, say)
        yield store, result


@dataclass(frozen=True, slots=True)
class Feed:
    """What the demo streams, and where to."""

    settings: Settings
    bootstrap: str
    sample: Sample
    realtime: bool


def stream_sample(settings: Settings, store: Store, bootstrap: str, *, realtime: bool, say: Say) -> DemoRun:
    """Import the sample's ledger, run a worker in-process, ingest the sample, wait for the end."""
    feed = Feed(settings, bootstrap, load_sample(), realtime)
    import_ledger(feed, store, say)
    say(f"loading the speech model ({settings.asr_model})…")
    runtime = create_runtime(settings, store, model=models.load(settings))
    app = build(settings, bootstrap, runtime)
    started = time.monotonic()
    done = asyncio.run(_stream(app, runtime, feed, say))
    violations = store.query(
        "SELECT kind, category, severity, offset_s, listing_id, term, text, rewrite, legal_basis "
        "FROM violations FINAL WHERE stream_id = %(s)s ORDER BY offset_s, kind, category",
        {"s": feed.sample.stream_id},
    )
    return DemoRun(done, violations, time.monotonic() - started)


def import_ledger(feed: Feed, store: Store, say: Say) -> None:
    sample = feed.sample
    read = read_ledger(sample.ledger, load_rules(feed.settings.lexicon_dir), mcn_id=sample.mcn_id)
    summary = save_import(store, read.entries, imported_at=datetime.now(UTC), source=str(sample.ledger))
    publish_ledger(feed.bootstrap, feed.settings.topic_partitions, read.entries)
    say(f"ledger of {sample.mcn_id}: {len(read.entries)} products ({summary.new} new)")


async def _stream(app: Any, runtime: Runtime, feed: Feed, say: Say) -> AudioIngest:
    ensure_topics(feed.bootstrap, feed.settings.topic_partitions)
    async with running(app):
        outcome: dict[str, Any] = {}
        thread = threading.Thread(target=_ingest, args=(feed, outcome), daemon=True)
        thread.start()
        await _wait(runtime, thread, outcome, say)
        if "error" in outcome:
            raise outcome["error"]
        done: AudioIngest = outcome["audio"]
        return done


def _ingest(feed: Feed, outcome: dict[str, Any]) -> None:
    sample = feed.sample
    info = StreamInfo(sample.stream_id, sample.anchor_id, sample.mcn_id, sample.started_at)
    try:
        with Publisher(feed.bootstrap, feed.settings.topic_partitions) as publisher:
            ingest_listings(publisher, sample.listings)
            outcome["audio"] = ingest_audio(
                publisher, info, sample.audio, audio_dir=feed.settings.audio_dir, realtime=feed.realtime
            )
    except Exception as exc:  # reported by the waiting side
        outcome["error"] = exc


async def _wait(runtime: Runtime, thread: threading.Thread, outcome: dict[str, Any], say: Say) -> None:
    """Until everything ingested was transcribed, checked and stored (or ten idle minutes)."""
    last, last_change = "", time.monotonic()
    while True:
        await asyncio.sleep(1.0)
        c = runtime.counts
        status = (
            f"  pieces transcribed {c['pieces']}, segments {c['segments']}, "
            f"violations {c['violations']} (stored {c['stored.violations']})"
        )
        if status != last:
            say(status)
            last, last_change = status, time.monotonic()
        if not thread.is_alive() and ("error" in outcome or _finished(runtime, outcome["audio"])):
            return
        if time.monotonic() - last_change > 600:
            raise ServiceError("the demo worker made no progress for ten minutes")


def _finished(runtime: Runtime, ingest: AudioIngest) -> bool:
    c = runtime.counts
    return (
        c["pieces"] >= ingest.pieces
        and c["stored.violations"] >= c["violations"]
        and c["stored.transcripts"] >= c["segments"]
        and c["stored.streams"] >= 2
        and (runtime.alerts is None or (c["alerts.checked"] >= c["violations"] and runtime.alerts.idle))
    )


def print_report(run: DemoRun, say: Say) -> None:
    say("")
    ingest = run.ingest
    say(
        f"{len(run.violations)} violations in {ingest.info.stream_id} ({ingest.audio_s:.0f} s of audio, "
        f"{ingest.pieces} speech pieces, {run.elapsed_s:.0f} s):"
    )
    for v in run.violations:
        at = str(timedelta(seconds=int(v["offset_s"])))
        where = f" [{v['listing_id']}]" if v["listing_id"] else ""
        say(f"  {at:>8} {v['severity']:<6} {label(v['category'])} ({v['category']}){where}: {v['term']}")
        if v["text"] and v["text"] != v["term"]:
            say(f"           “{v['text']}”")
        if v["rewrite"]:
            say(f"           → 建议改为：{v['rewrite']}")
    say("")
    say("summary by kind:")
    kinds = Counter((v["kind"], v["category"]) for v in run.violations)
    for (kind, category), count in sorted(kinds.items()):
        say(f"  {kind:<14} {category:<30} {count}")


def _log_path(settings: Settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir / "tansu.log"
