"""bench/chaos.py in CI, small: one live stream while workers, the broker and ClickHouse are killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# what a worker's own code logs (not the broker client's reconnects), crashes, and faust's word
# on a partition it never fetched or committed (faust-streaming/faust#166, #629): kept in the
# report of a failure
NOTABLE = (" pipeline.", "Crashed", "Traceback", "has not sent fetch request", "Has not committed")


def test_kills_of_every_part_lose_double_and_crash_nothing(tmp_path: Path) -> None:
    outcome = run(streams=1, worker_count=2, kills=6, seed=7, root=tmp_path)
    if not outcome.clean:  # the report keeps the end of the output: what the workers said, then this
        for log in sorted(tmp_path.glob("worker-*.log")):
            notable = [
                line
                for line in log.read_text(errors="replace").splitlines()
                if any(n in line for n in NOTABLE)
            ]
            print(f"--- {log.name}: {len(notable)} notable lines, the last 8:", *notable[-8:], sep="\n  ")
        print(outcome.line())
    assert sum(outcome.kills.values()) >= 6
    assert outcome.expected >= 8  # the sample's violations were all expected
    assert outcome.clean, outcome.summary()  # lost, duplicated, misplaced, crashed: all 0
