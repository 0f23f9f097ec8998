"""The ledger in the warehouse (both stores): imports keep history, unchanged rows are not rewritten."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.ledger.files import read_ledger
from pipeline.ledger.qualifications import load_rules
from pipeline.sample import SAMPLE_DIR
from pipeline.warehouse import Store
from pipeline.warehouse.ledger import current_ledger, save_import

SAMPLE = SAMPLE_DIR / "ledger.csv"
T1 = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.mark.integration
def test_import_history_and_as_of(store: Store) -> None:
    entries = read_ledger(SAMPLE, load_rules(), mcn_id="mcn-starlight").entries
    first = save_import(store, entries, imported_at=T1, source="ledger.csv")
    assert (first.new, first.changed, first.unchanged) == (5, 0, 0)
    assert current_ledger(store, "mcn-starlight") == list(entries)

    approved = [replace(e, status="approved") if e.product_id == "P-1006" else e for e in entries]
    second = save_import(store, approved, imported_at=T1 + timedelta(days=30), source="ledger-v2.csv")
    assert (second.new, second.changed, second.unchanged) == (0, 1, 4)
    assert second.import_id != first.import_id

    now = {e.product_id: e.status for e in current_ledger(store, "mcn-starlight")}
    then = {e.product_id: e.status for e in current_ledger(store, as_of=T1 + timedelta(days=1))}
    assert (now["P-1006"], then["P-1006"]) == ("approved", "pending")
    assert current_ledger(store, "mcn-other") == []
    versions = store.query("SELECT count() AS n FROM ledger FINAL WHERE product_id = 'P-1006'")
    assert versions == [{"n": 2}]


@pytest.mark.integration
def test_empty_import_writes_nothing(store: Store) -> None:
    summary = save_import(store, [], imported_at=T1, source="empty.csv")
    assert (summary.new, summary.changed, summary.unchanged) == (0, 0, 0)
