"""The Store interface both warehouses implement, with retries and schema migrations.

A store runs SQL in its own database (created on open; table names in SQL are unqualified):
``command`` (no result), ``query`` (rows as dicts, values
in Python types, datetimes aware in UTC) and ``insert`` (a batch of row dicts into one table).
Subclasses supply the four ``_raw_*`` primitives and say which errors are transient; retrying
with exponential backoff, column-type coercion and migrations live here, once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

from pipeline.errors import MigrationError, RowRefused, WarehouseError, WarehouseUnavailable
from pipeline.warehouse.cluster import counted_tables
from pipeline.warehouse.sql import (
    ColumnConverter,
    column_converter,
    quote_identifier,
    render,
    split_statements,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# ClickHouse error codes that, answering an INSERT, mean the data is wrong, not the warehouse:
# waiting cannot cure them. (Values are checked by column type before they are sent; these catch
# what the checks do not foresee.)
_DATA_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        16,  # NO_SUCH_COLUMN_IN_TABLE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH (clickhouse-driver's own, packing a value out of range)
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    }
)
_CODE = re.compile(r"Code: (\d+)")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file of ``pipeline/warehouse/migrations``."""

    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def migrations() -> list[Migration]:
    """The migrations this release ships, in version order."""
    found = []
    for entry in resources.files("pipeline.warehouse").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


LATEST_VERSION = max(m.version for m in migrations())


class Store(ABC):
    """A ClickHouse warehouse: one database, migrated to this release's schema on open."""

    kind: str = "abstract"

    def __init__(self, database: str, *, retries: int = 5, backoff_s: float = 0.5) -> None:
        self.database = quote_identifier(database)
        self.retries = retries
        self.backoff_s = backoff_s
        self._columns: dict[str, dict[str, str]] = {}
        self._converter_cache: dict[str, dict[str, ColumnConverter]] = {}

    # -- what a subclass supplies ---------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data lives, for humans (a host:port or a directory)."""

    @abstractmethod
    def _raw_command(self, sql: str) -> None: ...

    @abstractmethod
    def _raw_query(self, sql: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    def _raw_insert(self, table: str, columns: Sequence[str], data: list[list[Any]]) -> None:
        """Insert column-major ``data`` (one list per column, in ``columns`` order)."""

    @abstractmethod
    def _is_transient(self, exc: Exception) -> bool:
        """Whether an error may go away by waiting (connection refused, timeout)."""

    def _explain(self, exc: Exception) -> str:
        """What went wrong, in one line for the log and the error."""
        return _first_line(exc)

    @abstractmethod
    def close(self) -> None: ...

    # -- the interface ------------------------------------------------------------------------

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""
        text = render(sql, params)
        self._retrying(lambda: self._raw_command(text), sql)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query; rows as dicts with Python values."""
        text = render(sql, params)
        return self._retrying(lambda: self._raw_query(text), sql)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows (dicts keyed by column) into ``table`` as one batch; returns the count."""
        if not rows:
            return 0
        converters = self._converters(table)
        names = sorted({key for row in rows for key in row})
        unknown = [n for n in names if n not in converters]
        if unknown:
            raise RowRefused(f"table {table} has no column(s) {', '.join(unknown)}", column=unknown[0])
        data = [converters[n]([row.get(n) for row in rows]) for n in names]
        try:
            self._retrying(lambda: self._raw_insert(table, names, data), f"INSERT INTO {table}")
        except WarehouseError as exc:
            if isinstance(exc, WarehouseUnavailable) or error_code(exc.__cause__) not in _DATA_ERROR_CODES:
                raise
            raise RowRefused(f"{table}: {exc}") from exc
        return len(rows)

    def _converters(self, table: str) -> dict[str, ColumnConverter]:
        if table not in self._converter_cache:
            self._converter_cache[table] = {
                name: self._converter(type_name, name) for name, type_name in self.columns(table).items()
            }
        return self._converter_cache[table]

    def _converter(self, type_name: str, column: str) -> ColumnConverter:
        """How this store's driver wants a column's values (override for text formats)."""
        return column_converter(type_name, column)

    def columns(self, table: str) -> dict[str, str]:
        """Column name → ClickHouse type of a table of this database."""
        if table not in self._columns:
            rows = self.query(f"DESCRIBE TABLE {quote_identifier(table)}")
            self._columns[table] = {r["name"]: r["type"] for r in rows}
        return self._columns[table]

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retries ------------------------------------------------------------------------------

    def _retrying(self, operation: Callable[[], T], what: str) -> T:
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return operation()
            except WarehouseError:
                raise
            except Exception as exc:
                why = self._explain(exc)
                if not self._is_transient(exc):
                    raise WarehouseError(f"{self.kind} store at {self.location}: {why}") from exc
                if attempt == self.retries:
                    raise WarehouseUnavailable(
                        f"{self.kind} store at {self.location} unreachable after {attempt + 1} attempts: "
                        f"{why}"
                    ) from exc
                log.warning("%s store unreachable (%s); retry in %.1f s", self.kind, why, delay)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    # -- schema -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration applied to this database (0 for an empty one)."""
        exists = self.query(
            "SELECT count() AS n FROM system.tables WHERE database = %(db)s AND name = 'schema_migrations'",
            {"db": self.database},
        )
        if not exists[0]["n"]:
            return 0
        rows = self.query("SELECT max(version) AS v FROM schema_migrations")
        return int(rows[0]["v"] or 0)

    def migrate(self) -> list[Migration]:
        """Bring the database to this release's schema; returns the migrations applied."""
        current = self.schema_version()
        if current > LATEST_VERSION:
            raise MigrationError(
                f"{self.kind} store at {self.location} has schema version {current}, newer than this "
                f"release knows ({LATEST_VERSION}); upgrade ClaimWatch"
            )
        applied = [m for m in migrations() if m.version > current]
        for migration in applied:
            self._apply(migration)
        self._columns.clear()
        self._converter_cache.clear()
        return applied

    def _apply(self, migration: Migration) -> None:
        log.info("applying warehouse migration %04d %s", migration.version, migration.name)
        for statement in self._statements(migration):
            try:
                self.command(statement)
            except WarehouseError as exc:
                if "already exists" not in str(exc):  # a concurrent migrator got there first
                    raise MigrationError(f"migration {migration.version:04d} failed: {exc}") from exc
        self.insert(
            "schema_migrations",
            [
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                    "applied_at": datetime.now(UTC),
                }
            ],
        )

    def _statements(self, migration: Migration) -> list[str]:
        """The statements that apply a migration here (a cluster store rewrites them)."""
        return split_statements(migration.sql)

    def table_counts(self) -> dict[str, int]:
        """Rows per table after deduplication (FINAL where the engine folds duplicates); on a
        cluster, per Distributed table (its local tables are not listed)."""
        tables = self.query(
            "SELECT name, engine FROM system.tables WHERE database = %(db)s ORDER BY name",
            {"db": self.database},
        )
        counts = {}
        for name, folds in counted_tables({t["name"]: t["engine"] for t in tables}).items():
            rows = self.query(f"SELECT count() AS n FROM {name}{' FINAL' if folds else ''}")
            counts[name] = int(rows[0]["n"])
        return counts


def error_code(exc: BaseException | None) -> int | None:
    """The ClickHouse error code of a driver's exception (``code``, or ``Code: N`` in its text)."""
    if exc is None:
        return None
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
