"""Streaming commands: `worker`, `ingest audio|listings`, `topics status|repair`, `deadletter list`,
`analyze`, `demo`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
from tqdm import tqdm

from pipeline.commands.main import settings_of
from pipeline.commands.speech import report_damage
from pipeline.config import Settings
from pipeline.errors import ConfigError, RecordError
from pipeline.jsonl import write_objects
from pipeline.records import Card, StreamInfo, parse_datetime, to_dict
from pipeline.speech.audio import duration_s, is_url
from pipeline.speech.live import Reconnect
from pipeline.stream.analyze import analyze
from pipeline.stream.ingest import AudioIngest, ingest_audio, ingest_listings
from pipeline.stream.publish import (
    Publisher,
    layout_problems,
    read_dead_letters,
    repair_topics,
    topic_partitions,
)
from pipeline.stream.topics import layout
from pipeline.warehouse import Store


def broker_of(settings: Settings, command: str) -> str:
    if not settings.broker_url:
        raise ConfigError(
            f"`claimwatch {command}` needs a broker: set CLAIMWATCH_BROKER_URL (host:port); "
            "the embedded broker runs inside `claimwatch demo`"
        )
    return settings.broker_url


def _started_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_datetime(value, "--started-at")
    except RecordError as exc:
        raise click.BadParameter(exc.reason, param_hint="--started-at") from None


def publisher_of(settings: Settings, command: str) -> Publisher:
    """A publisher to the configured broker that checks every record's delivery."""
    return Publisher(
        broker_of(settings, command),
        settings.topic_partitions,
        delivery_timeout_s=settings.broker_delivery_timeout_s,
    )


def _report(errors: list[RecordError]) -> None:
    for error in errors:
        click.echo(f"skipped: {error}", err=True)


@click.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a stream worker (faust): transcribe, detect, check, store, alert.

    Start any number of them against one broker and one clickhouse-server: they share the
    partitions (one consumer group). Stop with Ctrl-C or SIGTERM.
    """
    from pipeline.stream.worker import run_worker

    settings = settings_of(ctx)
    run_worker(settings, broker_of(settings, "worker"))


@click.group()
def ingest() -> None:
    """Publish a stream's audio or listing events to the broker."""


@ingest.command("audio")
@click.argument("source")
@click.option("--stream-id", required=True, help="The live room's stream id.")
@click.option("--anchor-id", required=True, help="Who broadcasts it.")
@click.option("--mcn-id", required=True, help="The MCN the anchor belongs to.")
@click.option("--started-at", help="When the stream began (ISO 8601 with offset; default now).")
@click.option("--realtime", is_flag=True, help="Pace a file at real time, as if it were live.")
@click.pass_context
def ingest_audio_command(
    ctx: click.Context,
    *,
    source: str,
    stream_id: str,
    anchor_id: str,
    mcn_id: str,
    started_at: str | None,
    realtime: bool,
) -> None:
    """Decode SOURCE (a file or a live HTTP/HLS/FLV/RTMP URL), archive it, cut it into speech
    pieces and publish them.

    Damaged audio is published as far as it can be read, times kept on the container's clock;
    what could not be read (or a file cut short) is reported and the exit status is 1. A live URL
    that drops is reconnected (CLAIMWATCH_LIVE_STALL_TIMEOUT_S, CLAIMWATCH_LIVE_GIVE_UP_S); the
    outages are reported and the stream ends once its source is gone for good. A stream id
    ingested before keeps its start and archive: its audio goes on in a new archive part.
    """
    settings = settings_of(ctx)
    info = StreamInfo(stream_id, anchor_id, mcn_id, _started_at(started_at))
    total = None if is_url(source) else duration_s(source)
    with (
        publisher_of(settings, "ingest audio") as publisher,
        tqdm(total=round(total or 0, 1) or None, unit="s", desc=stream_id, disable=None) as bar,
    ):
        done = ingest_audio(
            publisher, info, source, audio_dir=settings.audio_dir, realtime=realtime,
            reconnect=Reconnect(settings.live_stall_timeout_s, settings.live_give_up_s),
            progress=_advance(bar),
        )  # fmt: skip
    click.echo(
        f"{stream_id}: {done.audio_s:.1f} s of audio, {done.pieces} speech pieces "
        f"({done.speech_s:.1f} s) published; archived at {done.info.audio_path}"
    )
    _report_live(done)
    report_damage(ctx, done.report)


def _report_live(done: AudioIngest) -> None:
    """A stream ingested again, a live source's outages and why its stream ended, on stderr."""
    plan, report = done.plan, done.report
    if plan is not None and plan.replay:
        click.echo(f"replayed: this recording is already archived from {plan.part.start_s:.1f} s", err=True)
    elif plan is not None and plan.part.start_s > 0:
        click.echo(
            f"continued: the stream's archive gained part {plan.path.name} from {plan.part.start_s:.1f} s "
            f"(started_at kept: {plan.started_at.isoformat()})", err=True,
        )  # fmt: skip
    if report.outages:
        click.echo(
            f"source lost (silence in the archive, later times kept): {report.outage_summary()}", err=True
        )
    if report.ended:
        click.echo(f"stream ended: {report.ended}", err=True)


def _advance(bar: tqdm) -> Callable[[float], None]:
    def update(seconds: float) -> None:
        bar.update(round(seconds, 1) - bar.n)

    return update


@ingest.command("listings")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
def ingest_listings_command(ctx: click.Context, file: str) -> None:
    """Publish listing events (JSONL, DESIGN.md §3.3; `-` reads stdin)."""
    settings = settings_of(ctx)
    with publisher_of(settings, "ingest listings") as publisher:
        done = ingest_listings(publisher, file, max_line_bytes=settings.listing_max_line_bytes)
    _report(done.errors)
    click.echo(f"{done.published} listing events published, {len(done.errors)} skipped")
    if done.errors:
        ctx.exit(1)


@click.group("topics")
def topics_command() -> None:
    """The broker's topics: their partitions against the configuration, and repair.

    Every stream-keyed topic needs CLAIMWATCH_TOPIC_PARTITIONS partitions. A broker that restarts
    empty creates a topic a client asks for with its own default, and a worker cannot run on that.
    """


@topics_command.command("status")
@click.pass_context
def topics_status(ctx: click.Context) -> None:
    """Each topic's partitions against the configuration; exit status 1 when any differs."""
    settings = settings_of(ctx)
    found = topic_partitions(broker_of(settings, "topics status"))
    for spec in layout(settings.topic_partitions):
        have = found.get(spec.name)
        state = "missing" if have is None else f"{have} partitions"
        click.echo(
            f"{spec.name}: {state}" + ("" if have == spec.partitions else f", {spec.partitions} expected")
        )
    problems = layout_problems(found, settings.topic_partitions)
    for problem in problems:
        click.echo(f"{problem}: run `claimwatch topics repair`")
    if problems:
        ctx.exit(1)


@topics_command.command("repair")
@click.option(
    "--yes", is_flag=True, help="Delete and recreate the topics that differ (their records are lost)."
)
@click.pass_context
def topics_repair(ctx: click.Context, yes: bool) -> None:
    """Recreate each topic whose partitions differ from the configuration, create missing ones.

    A recreated topic loses its records: stop the workers first, then ingest the streams that were
    on it again (the warehouse keeps what was already stored). Without --yes it says what it would do.
    """
    settings = settings_of(ctx)
    bootstrap = broker_of(settings, "topics repair")
    problems = layout_problems(topic_partitions(bootstrap), settings.topic_partitions)
    if not problems:
        click.echo("every topic has its partitions: nothing to repair")
        return
    if not yes:
        for problem in problems:
            click.echo(f"would repair: {problem}")
        click.echo("recreated topics lose their records: stop the workers, then run again with --yes")
        ctx.exit(1)
    for done in repair_topics(bootstrap, settings.topic_partitions):
        click.echo(done)


@click.group()
def deadletter() -> None:
    """Messages the workers could not process."""


@deadletter.command("list")
@click.option("--limit", default=100, show_default=True, help="Show at most this many (the newest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def deadletter_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List dead letters: where each came from, why it was refused, its original bytes."""
    settings = settings_of(ctx)
    letters = read_dead_letters(broker_of(settings, "deadletter list"))[-limit:]
    for letter in letters:
        if as_json:
            click.echo(json.dumps(to_dict(letter), ensure_ascii=False))
        else:
            shown = letter.payload[:120].decode("utf-8", "replace")
            click.echo(f"{letter.ts:%Y-%m-%d %H:%M:%S} {letter.topic}: {letter.reason}\n    {shown}")
    if not as_json:
        click.echo(f"{len(letters)} dead letter(s)")


@click.command(name="analyze")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--listings", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--ledger", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--stream-id", required=True)
@click.option("--anchor-id", required=True)
@click.option("--mcn-id", required=True)
@click.option("--started-at", required=True, help="ISO 8601 with offset, e.g. 2026-11-20T20:00:00+08:00.")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), required=True)
@click.option("--card", "cards", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A card file taken as approved: speech off it is off-card (repeatable).")  # fmt: skip
@click.pass_context
def analyze_command(
    ctx: click.Context,
    *,
    audio: Path,
    listings: Path,
    ledger: Path,
    stream_id: str,
    anchor_id: str,
    mcn_id: str,
    started_at: str,
    out: str,
    cards: tuple[Path, ...],
) -> None:
    """Analyse a recorded stream in-process (no servers): one violation per line to OUT.

    Damaged audio is analysed as far as it can be read, times kept on the container's clock; what
    could not be read is reported, the violations after it are marked, and the exit status is 1.
    """
    settings = settings_of(ctx)
    info = StreamInfo(stream_id, anchor_id, mcn_id, _started_at(started_at), source=str(audio))
    approved = _approved_cards(cards, mcn_id)
    with tqdm(total=round(duration_s(audio) or 0, 1) or None, unit="s", desc="analyze", disable=None) as bar:
        result = analyze(
            settings, audio=audio, listings=listings, ledger=ledger, info=info, progress=_advance(bar),
            cards=approved,
        )  # fmt: skip
    _report(result.errors)
    count = write_objects(out, (to_dict(v) for v in result.violations))
    click.echo(f"{count} violations from {len(result.segments)} transcript segments", err=out == "-")
    report_damage(ctx, result.audio)


def _approved_cards(paths: tuple[Path, ...], mcn_id: str) -> list[Card]:
    """The cards of ``paths``, taken as approved (each file's errors reported, its good cards kept)."""
    from pipeline.ledger.cards import read_cards

    approved: list[Card] = []
    for path in paths:
        read = read_cards(path, mcn_id=mcn_id)
        _report(list(read.errors))
        approved += [replace(c, status="approved", version=1) for c in read.cards]
    return approved


@click.command()
@click.option("--no-serve", is_flag=True, help="End after the summary instead of serving the console.")
@click.option("--realtime", is_flag=True, help="Stream the sample at real time (about two minutes).")
@click.option("--port", type=int, help="Console port (default: the console_port setting).")
@click.pass_context
def demo(ctx: click.Context, *, no_serve: bool, realtime: bool, port: int | None) -> None:
    """The bundled sample stream through the whole pipeline on embedded parts (no servers), a
    summary of its violations, then the console with a demo login."""
    from pipeline.stream.demo import demo_session

    settings = settings_of(ctx)
    with demo_session(settings, realtime=realtime, say=click.echo) as (store, _run):
        if not no_serve:
            serve_console(settings, store, port)


def serve_console(settings: Settings, store: Store, port: int | None) -> None:
    """The console on the demo's warehouse, with the demo login printed on the terminal."""
    from pipeline.console.server import serve
    from pipeline.console.users import ensure_demo_login

    user, password = ensure_demo_login(store)

    def ready(url: str) -> None:
        click.echo("")
        click.echo(f"console: {url}   login: {user} / {password}   (Ctrl-C to stop)")

    serve(settings, store=store, port=port, on_ready=ready)
