"""Console latency under load: 20 users at once against the same requests made one at a time.

    python -m bench.console_load [--users 20] [--rounds 3] [--store embedded|server]

Starts the console (uvicorn in a thread of this process, as the console tests do) on an embedded
warehouse in a temporary directory (``--store server``: a clickhouse-server started for the run,
as the tests start one), seeded with the console tests' scenario (two MCNs in November
2026, the sample stream's audio archived, so exports cut real clips), with one certifier account
per user. Each user logs in, then makes ``--rounds`` rounds of: the overview (``/``), a violation's
page, and a live-feed connection (``/live/events`` until its first bytes); the first user also
exports the starlight anchor's month (a bundle with eight clips) at the start. Baseline, in the
same run: the same requests made one at a time by one user. The ratio is p95 under load over p95
one at a time (the maximum under load is printed too). Target: p95 ≤ 300 ms for every page under
load.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from pipeline.config import Settings, load_settings
from pipeline.console.users import add_user
from pipeline.warehouse import open_store
from tests import scenario
from tests.console_support import PASSWORD, csrf_of, log_in, running_console

TARGET_P95_S = 0.3
VIOLATIONS = [v.event_id for v in scenario.starlight_violations()]
Times = dict[str, list[float]]


def timed(times: Times, page: str, call: Callable[[], httpx.Response]) -> None:
    started = time.perf_counter()
    response = call()
    if response.status_code != 200:
        raise RuntimeError(f"{page}: HTTP {response.status_code} {response.text[:200]}")
    times[page].append(time.perf_counter() - started)


def live_connect(client: httpx.Client) -> httpx.Response:
    """Open the live feed and read its first bytes (the reconnection delay), then hang up."""
    with client.stream("GET", "/live/events", params={"max_s": 5}) as response:
        next(response.iter_bytes())
        return response


def rounds(client: httpx.Client, times: Times, n: int, offset: int) -> None:
    for i in range(n):
        timed(times, "overview", lambda: client.get("/"))
        path = f"/violations/{VIOLATIONS[(offset + i) % len(VIOLATIONS)]}"
        timed(times, "violation", lambda: client.get(path))  # noqa: B023 (called at once)
        timed(times, "live (SSE connect)", lambda: live_connect(client))


def export(client: httpx.Client, times: Times) -> None:
    form = {
        "anchor_id": scenario.STARLIGHT.anchor_id,
        "period": scenario.PERIOD,
        "csrf_token": csrf_of(client),
    }
    timed(times, "export (8 clips)", lambda: client.post("/evidence/export", data=form))


def user(client: httpx.Client, times: Times, n: int, offset: int, exporter: bool) -> None:
    if exporter:
        export(client, times)
    rounds(client, times, n, offset)


def one_at_a_time(client: httpx.Client, n: int) -> Times:
    times: Times = defaultdict(list)
    export(client, times)
    rounds(client, times, n, 0)
    return times


def at_once(clients: list[httpx.Client], n: int) -> tuple[Times, float]:
    times: Times = defaultdict(list)  # list.append is atomic: the threads share it
    threads = [threading.Thread(target=user, args=(c, times, n, i, i == 0)) for i, c in enumerate(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, time.perf_counter() - started


def quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values), q[18]


def report(base: Times, load: Times, users: int) -> bool:
    under_load = f"{users} users p50/p95/max ms"
    print(f"{'page':<20} {'one at a time p50/p95 ms':>25} {under_load:>30} {'ratio p95':>10}")
    ok = True
    for page in load:
        b50, b95 = quantiles(base[page])
        l50, l95 = quantiles(load[page])
        top = max(load[page])
        is_page = not page.startswith("export")
        ok = ok and (not is_page or l95 <= TARGET_P95_S)
        mark = ("ok" if l95 <= TARGET_P95_S else "over target") if is_page else ""
        print(
            f"{page:<20} {b50 * 1000:>12.0f} / {b95 * 1000:>8.0f} {l50 * 1000:>12.0f} / {l95 * 1000:>6.0f}"
            f" / {top * 1000:>6.0f} {l95 / b95:>10.1f}  {mark}"
        )
    return ok


@contextlib.contextmanager
def bench_settings(tmp: Path, store: str) -> Iterator[Settings]:
    """Settings for an embedded warehouse under ``tmp``, or a clickhouse-server started there."""
    common = {"data_dir": tmp / "data", "evidence_key_file": tmp / "evidence.pem"}
    if store == "embedded":
        yield load_settings(warehouse="embedded", **common)
        return
    from tests.services import ClickHouseServer

    server = ClickHouseServer(tmp / "clickhouse").start()
    try:
        yield load_settings(
            warehouse="server", clickhouse_host="127.0.0.1", clickhouse_port=server.port, **common
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=("embedded", "server"), default="embedded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_settings(Path(tmp), args.store) as settings:
        print(f"store: {args.store}")
        with open_store(settings) as store:
            scenario.seed(store)
            for i in range(args.users):
                add_user(store, f"bench{i:02d}", PASSWORD, "certifier")
            with running_console(settings, store) as url:
                clients = [log_in(url, f"bench{i:02d}") for i in range(args.users)]
                for client in clients:
                    client.timeout = httpx.Timeout(600.0)  # under load an export waits minutes
                try:
                    rounds(clients[0], defaultdict(list), 1, 0)  # warm: templates, rules, caches
                    base = one_at_a_time(clients[0], args.rounds * 2)
                    load, wall_s = at_once(clients, args.rounds)
                finally:
                    for client in clients:
                        client.close()
    ok = report(base, load, args.users)
    requests = sum(len(v) for v in load.values())
    print(f"{args.users} users, {requests} requests in {wall_s:.1f} s ({requests / wall_s:.1f} requests/s)")
    print(f"target p95 ≤ {TARGET_P95_S * 1000:.0f} ms for pages: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
