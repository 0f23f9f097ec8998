"""The server store: clickhouse-server over the native protocol (clickhouse-driver).

Thread-safe: a store is shared by a worker's event loop and the threads it writes from, or by the
console's request threads. It holds a small pool of connections (``pool_size``, opened as they are
first needed, one query at a time each), so that up to that many threads query at once instead of
queueing for one connection; a thread past that waits for a connection to come back.

Failover: ``alt_hosts`` (``host:port,...``) are the servers a connection tries, in order, when
``host`` does not answer. A connection whose server dies fails its query as an outage; the
store's retry reconnects it, to ``host`` again if it is back, else to the first alternative that
answers. On a cluster every node holds the Distributed tables, so any node can stand in.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from pipeline.config import parse_hosts
from pipeline.warehouse.sql import quote_identifier
from pipeline.warehouse.store import Store

# Server error codes that mean "try again later", not "your SQL is wrong".
_TRANSIENT_CODES = {
    ch_errors.ErrorCodes.NETWORK_ERROR,
    ch_errors.ErrorCodes.SOCKET_TIMEOUT,
    ch_errors.ErrorCodes.TOO_MANY_SIMULTANEOUS_QUERIES,
    ch_errors.ErrorCodes.TIMEOUT_EXCEEDED,
    ch_errors.ErrorCodes.ALL_CONNECTION_TRIES_FAILED,
}


class ServerStore(Store):
    """ClickHouse server; works with 18.16 and current releases."""

    kind = "server"
    session_settings: ClassVar[Mapping[str, Any]] = {}  # ClickHouse settings of every connection

    def __init__(
        self,
        *,
        host: str,
        port: int,
        database: str,
        alt_hosts: str = "",
        user: str = "default",
        password: str = "",
        connect_timeout_s: float = 5.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        pool_size: int = 4,
    ) -> None:
        super().__init__(database, retries=retries, backoff_s=backoff_s)
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.host, self.port = host, port
        self.alt_hosts = parse_hosts(alt_hosts)
        self.pool_size = pool_size
        self._answer_timeout_s = max(30.0, connect_timeout_s)
        self._options: dict[str, Any] = {
            "port": port,
            "user": user,
            "password": password,
            "connect_timeout": connect_timeout_s,
            "send_receive_timeout": self._answer_timeout_s,
            "settings": {"use_numpy": False, **self.session_settings},
        }
        if self.alt_hosts:
            self._options["alt_hosts"] = ",".join(f"{h}:{p}" for h, p in self.alt_hosts)
        self._database_name = database
        self._slots = threading.BoundedSemaphore(pool_size)  # connections lent at most
        self._pool_lock = threading.Lock()
        self._idle: list[Client] = []  # connections not lent now (the last returned at the end)
        self._opened: list[Client] = []
        self._server_zone: ZoneInfo | None = None
        self._bootstrap: Client | None = Client(host, database="default", **self._options)
        try:
            self.command(self._create_database_sql())
        finally:
            self._bootstrap.disconnect()
            self._bootstrap = None

    @contextmanager
    def _connection(self) -> Iterator[Client]:
        """A connection of the pool for one call (opened when none is idle and the pool has room)."""
        if self._bootstrap is not None:  # while opening: the database may not exist yet
            yield self._bootstrap
            return
        self._slots.acquire()
        try:
            with self._pool_lock:
                client = self._idle.pop() if self._idle else None
                if client is None:
                    client = Client(self.host, database=self._database_name, **self._options)
                    self._opened.append(client)
            try:
                yield client
            finally:
                with self._pool_lock:
                    self._idle.append(client)
        finally:
            self._slots.release()

    @property
    def location(self) -> str:
        others = "".join(f", else {h}:{p}" for h, p in self.alt_hosts)
        return f"{self.host}:{self.port}{others}/{self.database}"

    def _create_database_sql(self) -> str:
        """The statement that creates this store's database (a cluster store's: on every node)."""
        return f"CREATE DATABASE IF NOT EXISTS {self.database}"

    def _raw_command(self, sql: str) -> None:
        with self._connection() as client:
            client.execute(sql)

    def _raw_query(self, sql: str) -> list[dict[str, Any]]:
        with self._connection() as client:
            rows, columns = client.execute(sql, with_column_types=True)
            self._learn_zone(client)
        names = [name for name, _type in columns]
        return [
            {name: self._normalise(value) for name, value in zip(names, row, strict=True)} for row in rows
        ]

    def _raw_insert(self, table: str, columns: Sequence[str], data: list[list[Any]]) -> None:
        query = f"INSERT INTO {quote_identifier(table)} ({', '.join(columns)}) VALUES"
        with self._connection() as client:
            client.execute(query, data, columnar=True)

    def _normalise(self, value: Any) -> Any:
        """Datetimes as aware UTC (the driver gives naive ones in the server's zone)."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=self._zone())
            return value.astimezone(UTC)
        if isinstance(value, tuple):
            return [self._normalise(v) for v in value]
        if isinstance(value, list):
            return [self._normalise(v) for v in value]
        return value

    def _learn_zone(self, client: Client) -> None:
        """The server's time zone, read off a connection that has just answered."""
        if self._server_zone is None:
            self._server_zone = ZoneInfo(client.connection.server_info.timezone)

    def _zone(self) -> ZoneInfo:
        if self._server_zone is None:
            with self._connection() as client:
                client.execute("SELECT 1")
                self._learn_zone(client)
        assert self._server_zone is not None
        return self._server_zone

    def _is_transient(self, exc: Exception) -> bool:
        if isinstance(exc, ch_errors.NetworkError | ch_errors.SocketTimeoutError | socket.timeout | OSError):
            return True
        return isinstance(exc, ch_errors.Error) and getattr(exc, "code", None) in _TRANSIENT_CODES

    def _explain(self, exc: Exception) -> str:
        code = getattr(exc, "code", None) if isinstance(exc, ch_errors.Error) else None
        timed_out = isinstance(exc, ch_errors.SocketTimeoutError | socket.timeout) or (
            code == ch_errors.ErrorCodes.SOCKET_TIMEOUT
        )
        if timed_out:  # the driver's own text is just "Code: 209. (host:port)"
            return (
                f"no answer from {self.host}:{self.port} within {self._answer_timeout_s:.0f} s: the server "
                "takes connections but does not reply (hung, paused or overloaded)"
            )
        return super()._explain(exc)

    def close(self) -> None:
        with self._pool_lock:
            opened, self._opened, self._idle = self._opened, [], []
        for client in opened:
            client.disconnect()
