"""Off-card speech through the streaming pipeline (issue 18): cards imported and approved with the
CLI into a real clickhouse-server, a `claimwatch worker` process on its own tansu broker, the
sample's recording with the anchor saying what the cards do not (tests/data/cards).

The worker takes the cards in force from the warehouse (`cards`, migration 0003) when it starts
and again with a listing event once its copy is 30 s old (pipeline/stream/runtime.py); what it
stores must be what `claimwatch analyze --card` gives for the same files, field by field, and the
score must weigh the off-card violations (`conduct.off_card_factor`, lexicons/scoring.yaml).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings, load_settings
from pipeline.console.users import add_user
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.scoring import compute_scores
from pipeline.reporting.scoring_rules import load_rules
from pipeline.sample import load_sample
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.publish import read_dead_letters
from pipeline.warehouse import Store, open_store
from tests.conftest import unique_database
from tests.paths import DATA
from tests.pipeline_harness import claimwatch, env_of, stream_finished, violations, wait_for, workers
from tests.services import ClickHouseServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLE = load_sample()
CARDS = DATA / "cards"
CARD_FILES = (CARDS / "cream_card.md", CARDS / "pajamas_card.docx")  # P-1001 and P-1004
LISTINGS = CARDS / "listings_offcard.jsonl"  # the sample's listings, P-1004 named by product_id
MCN = ["--mcn-id", SAMPLE.mcn_id]
# the fields of a violation that must be the same in the warehouse as in `claimwatch analyze`
FIELDS = (
    "event_id", "stream_id", "anchor_id", "mcn_id", "kind", "category", "severity", "offset_s",
    "end_offset_s", "source", "listing_id", "product_id", "text", "term", "rule_id", "legal_basis",
    "lexicon_version", "rewrite", "off_card",
)  # fmt: skip


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[str]:
    """A broker of this test's own (tests/e2e/test_pipeline_e2e.py: consumer groups never mix)."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as running:
        yield running.bootstrap


@pytest.fixture
def settings(clickhouse_server: ClickHouseServer, tmp_path: Path) -> Settings:
    return load_settings(
        warehouse="server", clickhouse_port=clickhouse_server.port, clickhouse_database=unique_database(),
        data_dir=tmp_path / "data", topic_partitions=4,
    )  # fmt: skip


def _fields(v: dict[str, Any]) -> tuple[Any, ...]:
    """A violation's compared fields, from an analyze line or a warehouse row alike."""
    out = {f: v[f] for f in FIELDS}
    out["off_card"] = bool(out["off_card"])
    out["offset_s"], out["end_offset_s"] = round(out["offset_s"], 3), round(out["end_offset_s"], 3)
    return tuple(out[f] for f in FIELDS)


def _analyze(env: dict[str, str], tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "analyze.jsonl"
    cards = [arg for path in CARD_FILES for arg in ("--card", str(path))]
    claimwatch(
        env, "analyze", "--audio", str(SAMPLE.audio), "--listings", str(LISTINGS), "--ledger",
        str(SAMPLE.ledger), "--stream-id", SAMPLE.stream_id, "--anchor-id", SAMPLE.anchor_id, *MCN,
        "--started-at", SAMPLE.started_at.isoformat(), "--out", str(out), *cards,
    )  # fmt: skip
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _approve_cards(env: dict[str, str], store: Store) -> None:
    """The card files imported and approved as an MCN officer does it (docs/cards.md, section 2)."""
    add_user(store, "wangmin", "a long enough password", "mcn_officer", mcn_id=SAMPLE.mcn_id)
    for path in CARD_FILES:
        claimwatch(env, "card", "import", str(path), *MCN)
    for product_id in ("P-1001", "P-1004"):
        claimwatch(env, "card", "approve", *MCN, "--product-id", product_id, "--by", "wangmin")


def test_the_worker_stores_the_off_card_violations_analyze_gives_and_the_score_weighs_them(
    settings: Settings, own_broker: str, tmp_path: Path
) -> None:
    env = env_of(settings, own_broker)
    reference = _analyze(env, tmp_path)
    off_card = [v for v in reference if v["off_card"]]
    statements = [v for v in off_card if v["category"] == "off_card"]
    # the scenario: off-card claims of both carded products and an off-card statement (新疆, origin)
    assert {v["product_id"] for v in off_card if v["kind"] == "claim"} == {"P-1001", "P-1004"}
    assert [(v["kind"], v["product_id"], v["term"]) for v in statements] == [("ledger", "P-1004", "新疆")]
    expected = {(v["event_id"], v["kind"], v["category"]) for v in reference}

    with open_store(settings) as store:
        claimwatch(env, "ledger", "import", str(SAMPLE.ledger), *MCN)
        with workers(env, tmp_path) as (worker,):
            wait_for(
                lambda: "owns audio.chunks partitions" in worker.output(), timeout_s=180, why=worker.output
            )
            _approve_cards(env, store)  # while the worker runs: it takes them with the first listing
            claimwatch(env, "ingest", "listings", str(LISTINGS))
            claimwatch(
                env, "ingest", "audio", str(SAMPLE.audio), "--stream-id", SAMPLE.stream_id,
                "--anchor-id", SAMPLE.anchor_id, *MCN, "--started-at", SAMPLE.started_at.isoformat(),
            )  # fmt: skip
            wait_for(
                lambda: stream_finished(store, SAMPLE.stream_id, expected), timeout_s=300,
                why=lambda: f"stored {violations(store)} vs {expected}\n{worker.output()[-3000:]}",
            )  # fmt: skip
            time.sleep(3)  # nothing more arrives
        stored = store.query(
            "SELECT * FROM violations FINAL WHERE stream_id = %(s)s", {"s": SAMPLE.stream_id}
        )
        assert sorted(map(_fields, stored)) == sorted(map(_fields, reference))

        # the score: each off-card line weighs off_card_factor (2.0) times the same line on the card
        scored = claimwatch(env, "score", "--period", "2026-11", *["--mcn", SAMPLE.mcn_id], "--json").stdout
        by_level = {s["level"]: s for s in map(json.loads, scored.splitlines())}
        rules = load_rules(settings.scoring_file)
        on_card_rules = dataclasses.replace(rules, off_card_factor=1.0)
        period, scope = Period.parse("2026-11", settings.timezone), Scope.everything()
        (on_card,) = compute_scores(store, on_card_rules, "mcn", period, scope)
    assert read_dead_letters(own_broker, timeout_s=3) == []

    mcn = by_level["mcn"]
    lines = [i for i in mcn["items"] if i["item"] == "off_card_violations"]
    assert sum(i["count"] for i in lines) == len(off_card) > 0
    assert {i["category"] for i in lines} >= {"off_card", *(v["category"] for v in off_card)}
    same_lines = {
        (i.kind, i.category, i.severity): i.deduction
        for i in on_card.items
        if i.item == "off_card_violations"
    }
    for line in lines:
        assert line["deduction"] == pytest.approx(
            2 * same_lines[(line["kind"], line["category"], line["severity"])], abs=0.02
        )
    assert mcn["violations"] == on_card.violations == len([v for v in reference if _conduct(v)])
    anchors = mcn["selection"]["anchors"]
    (anchor,) = [a for a in anchors if a["anchor_id"] == SAMPLE.anchor_id]
    assert anchor["off_card"] == len(off_card)


def _conduct(v: dict[str, Any]) -> bool:
    """Counted as conduct in the score (pipeline/reporting/scoring.py, CONDUCT_SQL)."""
    return v["kind"] in ("claim", "qualification") or v["category"] == "off_card"
