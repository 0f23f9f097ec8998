"""The embedded store: ClickHouse in-process through chdb, data in a directory.

chdb runs one embedded server per process and locks its directory: a second process cannot
open the same data directory while the first holds it. Stores of one process share the session
(different databases are fine); the session switches database under a lock before each call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from chdb import session as chdb_session

from pipeline.errors import WarehouseUnavailable
from pipeline.warehouse.sql import (
    ColumnConverter,
    column_converter,
    converter,
    from_text,
    quote_identifier,
    strip_nullable,
)
from pipeline.warehouse.store import Store

_LOCK = threading.RLock()
_SHARED: dict[str, Any] = {"path": None, "session": None, "users": 0, "database": None}


def _acquire(path: Path) -> Any:
    with _LOCK:
        if _SHARED["session"] is not None:
            if _SHARED["path"] != str(path):
                raise WarehouseUnavailable(
                    f"embedded warehouse: this process already has {_SHARED['path']} open; "
                    f"chdb allows one data directory per process"
                )
        else:
            path.mkdir(parents=True, exist_ok=True)
            try:
                session = chdb_session.Session(str(path))
            except Exception as exc:
                raise WarehouseUnavailable(
                    f"embedded warehouse at {path} cannot be opened ({str(exc).strip()[:200]}); "
                    "another ClaimWatch process may hold it: stop that process, or use a server "
                    "warehouse (CLAIMWATCH_WAREHOUSE=server) for several processes"
                ) from exc
            session.query("SET session_timezone = 'UTC'")
            session.query("SET output_format_json_quote_64bit_integers = 0")
            _SHARED.update(path=str(path), session=session, database=None)
        _SHARED["users"] += 1
        return _SHARED["session"]


def _release() -> None:
    with _LOCK:
        _SHARED["users"] -= 1
        if _SHARED["users"] == 0 and _SHARED["session"] is not None:
            _SHARED["session"].close()
            _SHARED.update(path=None, session=None, database=None)


class EmbeddedStore(Store):
    """chdb (ClickHouse in-process) in a data directory."""

    kind = "embedded"

    def __init__(self, path: Path, *, database: str = "claimwatch") -> None:
        super().__init__(database, retries=0)
        self.path = Path(path)
        self._session = _acquire(self.path)
        self._closed = False
        with _LOCK:
            self._session.query(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")

    @property
    def location(self) -> str:
        return f"{self.path}/{self.database}"

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with _LOCK:
            if _SHARED["database"] != self.database:
                self._session.query(f"USE {self.database}")
                _SHARED["database"] = self.database
            return self._session.query(sql, fmt)

    def _raw_command(self, sql: str) -> None:
        self._run(sql)

    def _raw_query(self, sql: str) -> list[dict[str, Any]]:
        result = self._run(sql, "JSONCompactEachRowWithNamesAndTypes").bytes()
        lines = result.splitlines()
        if not lines:
            return []
        names = json.loads(lines[0])
        types = json.loads(lines[1])
        return [
            {n: from_text(v, t) for n, t, v in zip(names, types, json.loads(line), strict=True)}
            for line in lines[2:]
        ]

    def _raw_insert(self, table: str, columns: Sequence[str], data: list[list[Any]]) -> None:
        # One JSON array of row arrays; without its outer brackets it is JSONCompactEachRow input.
        body = json.dumps(list(zip(*data, strict=True)), ensure_ascii=False, separators=(",", ":"))[1:-1]
        names = ", ".join(columns)
        self._run(f"INSERT INTO {quote_identifier(table)} ({names}) FORMAT JSONCompactEachRow\n{body}")

    def _converter(self, type_name: str, column: str) -> ColumnConverter:
        """Times as the text the JSON input format parses (the columns are DateTime('UTC'))."""
        base, _ = strip_nullable(type_name)
        convert = converter(type_name, column)
        if base.startswith("DateTime"):
            return column_converter(type_name, column, lambda v: _time_text(convert(v)))
        if base == "Date" or base.startswith("Array(Date"):
            return column_converter(type_name, column, lambda v: _date_text(convert(v)))
        return column_converter(type_name, column)

    def _is_transient(self, exc: Exception) -> bool:
        return False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release()


def _time_text(value: Any) -> Any:
    return None if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _date_text(value: Any) -> Any:
    if isinstance(value, list):
        return [_date_text(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value
