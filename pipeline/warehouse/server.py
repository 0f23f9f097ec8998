"""The server store: clickhouse-server over the native protocol (clickhouse-driver).

Thread-safe: a store is shared by a worker's event loop and the threads it writes from, and its
one connection takes one query at a time.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

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

    def __init__(
        self,
        *,
        host: str,
        port: int,
        database: str,
        user: str = "default",
        password: str = "",
        connect_timeout_s: float = 5.0,
        retries: int = 5,
        backoff_s: float = 0.5,
    ) -> None:
        super().__init__(database, retries=retries, backoff_s=backoff_s)
        self.host, self.port = host, port
        self._lock = threading.Lock()  # one connection: one query at a time, whichever thread
        self._answer_timeout_s = max(30.0, connect_timeout_s)
        options: dict[str, Any] = {
            "port": port,
            "user": user,
            "password": password,
            "connect_timeout": connect_timeout_s,
            "send_receive_timeout": self._answer_timeout_s,
            "settings": {"use_numpy": False},
        }
        bootstrap = Client(host, database="default", **options)
        self._client = bootstrap
        self.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
        bootstrap.disconnect()
        self._client = Client(host, database=database, **options)
        self._server_zone: ZoneInfo | None = None

    @property
    def location(self) -> str:
        return f"{self.host}:{self.port}/{self.database}"

    def _raw_command(self, sql: str) -> None:
        with self._lock:
            self._client.execute(sql)

    def _raw_query(self, sql: str) -> list[dict[str, Any]]:
        with self._lock:
            rows, columns = self._client.execute(sql, with_column_types=True)
        names = [name for name, _type in columns]
        return [
            {name: self._normalise(value) for name, value in zip(names, row, strict=True)} for row in rows
        ]

    def _raw_insert(self, table: str, columns: Sequence[str], data: list[list[Any]]) -> None:
        query = f"INSERT INTO {quote_identifier(table)} ({', '.join(columns)}) VALUES"
        with self._lock:
            self._client.execute(query, data, columnar=True)

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

    def _zone(self) -> ZoneInfo:
        if self._server_zone is None:
            self._server_zone = ZoneInfo(self._client.connection.server_info.timezone)
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
        self._client.disconnect()
