"""Real services for the test session: a clickhouse-server with its own config and data directory.

(The broker fixture uses pipeline.stream.broker.EmbeddedBroker, the same tansu the demo runs.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from pipeline.errors import ServiceError
from pipeline.stream.broker import free_port, wait_for_port

CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{root}/log/server.log</log><errorlog>{root}/log/error.log</errorlog></logger>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <user_files_path>{root}/user_files/</user_files_path>
  <format_schema_path>{root}/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>Asia/Shanghai</timezone>
{extra}
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
"""


def stop_process(process: subprocess.Popen[bytes] | None, timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s`` (None or an exited process: nothing to do)."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def clickhouse_binary() -> str:
    """The clickhouse-server executable (Debian package `clickhouse-server`)."""
    for name in ("clickhouse-server", "clickhouse"):
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    raise ServiceError("clickhouse-server is not installed: apt-get install clickhouse-server (make deps)")


class ClickHouseServer:
    """A clickhouse-server on free loopback ports with its data under ``root``.

    The server's time zone is deliberately not UTC, so tests catch any reader that forgets to
    convert times.
    """

    def __init__(self, root: Path, *, extra_config: str = "") -> None:
        self.root = root
        self.extra_config = extra_config  # more top-level elements of config.xml (a cluster node's)
        self.port = free_port()
        self.http_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> ClickHouseServer:
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "config.xml").write_text(
            CONFIG.format(
                root=self.root, tcp_port=self.port, http_port=self.http_port, extra=self.extra_config
            )
        )
        (self.root / "users.xml").write_text(USERS)
        binary = clickhouse_binary()
        command = [binary, f"--config-file={self.root / 'config.xml'}"]
        if os.path.basename(binary) == "clickhouse":
            command.insert(1, "server")
        with open(self.root / "log" / "stdout.log", "ab") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=self.root)
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s, self._process)
        except ServiceError as exc:
            self.stop()
            log = (self.root / "log" / "stdout.log").read_text(errors="replace")[-2000:]
            raise ServiceError(f"clickhouse-server failed to start: {exc}\n{log}") from None
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None, "not running"
        return self._process.pid

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-write, as on a power cut (its data stays on disk)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang as in a network partition."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same port and data (the 'ClickHouse went down' case)."""
        self.stop()
        self.start()
