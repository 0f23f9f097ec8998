"""A hung clickhouse-server (SIGSTOP: it takes connections and never answers) is told apart in the
log and in the error, within the answer timeout: not a silent wait."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from pipeline.errors import WarehouseUnavailable
from pipeline.warehouse.server import ServerStore
from tests.services import ClickHouseServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_paused_server_is_named_hung_in_the_log_and_the_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = ClickHouseServer(tmp_path / "ch").start()
    try:
        store = ServerStore(host="127.0.0.1", port=server.port, database="hung", retries=1, backoff_s=0.1)
        store.migrate()
        server.pause()
        began = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="pipeline.warehouse.store"),
            pytest.raises(WarehouseUnavailable, match="does not reply") as raised,
        ):
            store.query("SELECT count() AS n FROM violations")
        waited = time.monotonic() - began
        assert waited < 100  # two attempts of the 30 s answer timeout, not the driver's 300 s
        warned = [r.getMessage() for r in caplog.records if "does not reply" in r.getMessage()]
        assert warned, [r.getMessage() for r in caplog.records]  # the first attempt's timeout is logged
        assert str(server.port) in str(raised.value)
        server.resume()
        assert store.query("SELECT 1 AS x") == [{"x": 1}]  # back once it answers again
        store.close()
    finally:
        server.resume()
        server.stop()
