"""bench/chaos.py in CI, small: one live stream while workers, the broker and ClickHouse are killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kills_of_every_part_lose_double_and_crash_nothing(tmp_path: Path) -> None:
    outcome = run(streams=1, worker_count=2, kills=6, seed=7, root=tmp_path)
    assert sum(outcome.kills.values()) >= 6
    assert outcome.expected >= 8  # the sample's violations were all expected
    assert outcome.clean, outcome.line()  # lost, duplicated, misplaced, crashed: all 0
