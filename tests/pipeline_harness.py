"""Running the real pipeline in tests: worker processes, CLI ingest, waiting on the warehouse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.sample import Sample
from pipeline.warehouse import Store

Violations = set[tuple[str, str, str]]  # (event_id, kind, category)


def env_of(settings: Settings, broker: str = "") -> dict[str, str]:
    """The environment a ClaimWatch process (or a CliRunner) needs to use these settings and this
    broker (none: the commands that need one say so)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMWATCH_")}
    env.update(
        CLAIMWATCH_BROKER_URL=broker,
        CLAIMWATCH_WAREHOUSE=settings.warehouse,
        CLAIMWATCH_CLICKHOUSE_PORT=str(settings.clickhouse_port),
        CLAIMWATCH_CLICKHOUSE_DATABASE=settings.clickhouse_database,
        CLAIMWATCH_CLICKHOUSE_CLUSTER=settings.clickhouse_cluster,
        CLAIMWATCH_DATA_DIR=str(settings.data_dir),
        CLAIMWATCH_BROKER_SESSION_TIMEOUT_S="6",
        CLAIMWATCH_TOPIC_PARTITIONS=str(settings.topic_partitions),
        CLAIMWATCH_WAREHOUSE_RETRIES="2",
        CLAIMWATCH_WAREHOUSE_BACKOFF_S="0.2",
        PYTHONUNBUFFERED="1",  # a worker killed with SIGKILL leaves its whole log
    )
    return env


def claimwatch(env: dict[str, str], *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a claimwatch command to its end; fail the test with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(
            f"claimwatch {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done


@dataclass
class Worker:
    """A `claimwatch worker` process; its log goes to a file the test can read."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> Worker:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, no commit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def assert_no_agent_crashed(self) -> None:
        """No agent of this worker died on an exception (faust restarts it and logs the crash)."""
        lines = self.output().splitlines()
        crashes = [i for i, line in enumerate(lines) if "Crashed reason=" in line]
        # each crash with the traceback faust logs after it: the reason alone rarely says where
        shown = ["\n".join(lines[i : i + 40]) for i in crashes[:3]]
        report = "\n---\n".join(shown)
        assert not crashes, f"{self.log.name}: an agent crashed {len(crashes)} times:\n{report}"


@contextmanager
def workers(env: dict[str, str], tmp: Path, count: int = 1) -> Iterator[list[Worker]]:
    started = [Worker(env, tmp / f"worker-{i}.log").start() for i in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()
    for worker in started:
        worker.assert_no_agent_crashed()


def ingest_sample(
    env: dict[str, str], sample: Sample, *, stream_id: str | None = None, realtime: bool = False
) -> None:
    """The sample's listing events and audio through `claimwatch ingest`, as an operator would."""
    stream = stream_id or sample.stream_id
    listings = sample.listings
    if stream_id is not None:  # the same events for another stream id
        text = sample.listings.read_text(encoding="utf-8").replace(sample.stream_id, stream_id)
        listings = Path(env["CLAIMWATCH_DATA_DIR"]) / f"listings-{stream_id}.jsonl"
        listings.write_text(text, encoding="utf-8")
    claimwatch(env, "ingest", "listings", str(listings))
    args = ["ingest", "audio", str(sample.audio), "--stream-id", stream, "--anchor-id", sample.anchor_id,
            "--mcn-id", sample.mcn_id, "--started-at", sample.started_at.isoformat()]  # fmt: skip
    claimwatch(env, *args, *(["--realtime"] if realtime else []))


def violations(store: Store, stream_id: str | None = None) -> Violations:
    where, params = ("WHERE stream_id = %(s)s", {"s": stream_id}) if stream_id else ("", None)
    rows = store.query(f"SELECT event_id, kind, category FROM violations FINAL {where}", params)
    return {(r["event_id"], r["kind"], r["category"]) for r in rows}


def wait_for(
    check: Callable[[], Any], *, timeout_s: float, every_s: float = 1.0, why: Callable[[], str] = lambda: ""
) -> Any:
    """Poll until ``check`` returns something true; fail with ``why()`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:.0f} s: {why()}")
        time.sleep(every_s)


def stream_finished(store: Store, stream_id: str, expected: Violations) -> bool:
    """The stream's end is stored and its violations are (at least) the expected ones."""
    ended = store.query(
        "SELECT count() AS n FROM streams FINAL WHERE stream_id = %(s)s AND ended_at IS NOT NULL",
        {"s": stream_id},
    )
    return bool(ended[0]["n"]) and expected <= violations(store, stream_id)


Hit = tuple[float, dict[str, Any]]  # when a webhook POST arrived (time.monotonic()) and its JSON body


@contextmanager
def webhook() -> Iterator[tuple[str, list[Hit]]]:
    """A local HTTP server (an alert target) that records what is POSTed to it: its URL, the hits."""
    received: list[Hit] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((time.monotonic(), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
