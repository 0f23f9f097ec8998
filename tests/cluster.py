"""A real local ClickHouse cluster for the test session: ZooKeeper and 2 shards × 2 replicas.

Debian's `zookeeper` (standalone, one node: the tests need coordination, not its fault
tolerance) and four `clickhouse-server` processes on free loopback ports, each with its own
config (cluster layout, macros, interserver port) and data under one temp directory. The
topology is the one docker-compose.yml's `cluster` profile describes (docs/deploy.md).

Lean on purpose (CI machines have 2 cores): small caches, few background threads, a
ZooKeeper with a 96 MB heap.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from pipeline.errors import ServiceError
from pipeline.stream.broker import free_port, wait_for_port
from tests.services import ClickHouseServer, stop_process

CLUSTER = "claimwatch"
SHARDS, REPLICAS = 2, 2
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")

ZOO_CFG = """tickTime=500
initLimit=10
syncLimit=5
dataDir={root}/data
clientPort={port}
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
maxSessionTimeout=30000
"""

NODE_CONFIG = """  <interserver_http_port>{interserver_port}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <remote_servers><{cluster}>{shards}</{cluster}></remote_servers>
  <zookeeper><node><host>127.0.0.1</host><port>{zk_port}</port></node>
    <session_timeout_ms>10000</session_timeout_ms></zookeeper>
  <macros><shard>{shard:02d}</shard><replica>s{shard}r{replica}</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
"""

SHARD = "<shard><internal_replication>true</internal_replication>{replicas}</shard>"
REPLICA = "<replica><host>127.0.0.1</host><port>{port}</port></replica>"


def zookeeper_available() -> bool:
    return ZOOKEEPER_JAR.exists() and shutil.which("java") is not None


class ZooKeeperServer:
    """A standalone ZooKeeper (Debian package `zookeeper`) on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> ZooKeeperServer:
        if not zookeeper_available():
            raise ServiceError("zookeeper is not installed: apt-get install zookeeper (make deps)")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "zoo.cfg"
        config.write_text(ZOO_CFG.format(root=self.root, port=self.port))
        classpath = f"/etc/zookeeper/conf:{ZOOKEEPER_JAR}"
        command = ["java", "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath]
        command += [f"-Dzookeeper.log.dir={self.root}", "org.apache.zookeeper.server.ZooKeeperServerMain"]
        with open(self.root / "zookeeper.log", "ab") as out:
            self._process = subprocess.Popen([*command, str(config)], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s, self._process)
            self._wait_until_serving(timeout_s)
        except ServiceError as exc:
            self.stop()
            raise ServiceError(f"zookeeper failed to start: {exc}") from None
        return self

    def _wait_until_serving(self, timeout_s: float) -> None:
        """Until ZooKeeper serves requests (it listens before it does; clickhouse-server 18.16
        started against a ZooKeeper not yet serving crashes on its first ON CLUSTER query)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    sock.sendall(b"srvr")
                    if b"Mode:" in sock.recv(4096):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise ServiceError(f"zookeeper on port {self.port} not serving after {timeout_s:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)


@dataclass
class Node:
    """One clickhouse-server of the cluster, with where it sits."""

    shard: int
    replica: int
    server: ClickHouseServer

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        """Start (again, on the same ports and data) and wait for its ZooKeeper session."""
        self.server.start()
        wait_for_zookeeper(self.server)

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        """SIGKILL, as on a power cut: whatever it was writing is cut off."""
        self.server.kill()


def wait_for_zookeeper(server: ClickHouseServer, timeout_s: float = 60.0) -> None:
    """Until a node of the cluster reads ZooKeeper (its session is up)."""
    client = Client("127.0.0.1", port=server.port, connect_timeout=2)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                client.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")
                return
            except ClickHouseError as exc:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"clickhouse-server on {server.port} cannot reach zookeeper: {exc}"
                    ) from None
                time.sleep(0.2)
    finally:
        client.disconnect()


class ClickHouseCluster:
    """ZooKeeper plus SHARDS × REPLICAS clickhouse-servers forming the cluster ``CLUSTER``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = CLUSTER
        self.zookeeper = ZooKeeperServer(root / "zookeeper")
        self.nodes: list[Node] = []
        self.started_in_s = 0.0

    def start(self) -> ClickHouseCluster:
        began = time.monotonic()
        self.zookeeper.start()
        servers = {
            (s, r): ClickHouseServer(self.root / f"ch-s{s}r{r}")
            for s in range(1, SHARDS + 1)
            for r in range(1, REPLICAS + 1)
        }
        layout = "".join(
            SHARD.format(
                replicas="".join(REPLICA.format(port=servers[s, r].port) for r in range(1, REPLICAS + 1))
            )
            for s in range(1, SHARDS + 1)
        )
        for (shard, replica), server in servers.items():
            server.extra_config = NODE_CONFIG.format(
                interserver_port=free_port(),
                cluster=self.name,
                shards=layout,
                zk_port=self.zookeeper.port,
                shard=shard,
                replica=replica,
            )
            self.nodes.append(Node(shard, replica, server))
        try:
            for node in self.nodes:
                node.server.start()
            for node in self.nodes:
                wait_for_zookeeper(node.server)
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - began
        return self

    def node(self, shard: int, replica: int) -> Node:
        return next(n for n in self.nodes if (n.shard, n.replica) == (shard, replica))

    def shard_nodes(self, shard: int) -> Iterator[Node]:
        return (n for n in self.nodes if n.shard == shard)

    @property
    def entry(self) -> Node:
        """The node clients talk to (the tests never kill it unless they say so)."""
        return self.node(1, 1)

    def stop(self) -> None:
        for node in self.nodes:
            node.server.stop()
        self.zookeeper.stop()
