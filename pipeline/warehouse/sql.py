"""SQL text shared by both stores: parameter rendering and value conversion by column type.

Parameters are written ``%(name)s`` and rendered here into escaped literals, the same way for
clickhouse-server and chdb (server-side query parameters do not exist on 18.16). Rendering is
the only way values enter SQL text, so every reader is safe from injection by construction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.errors import WarehouseError

_PARAM = re.compile(r"%\((\w+)\)s")
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0", "\b": "\\b"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_identifier(name: str) -> str:
    """A database or table name, refused unless it is a plain identifier."""
    if not _IDENTIFIER.match(name):
        raise WarehouseError(f"{name!r} is not a valid ClickHouse identifier")
    return name


def literal(value: Any) -> str:  # noqa: PLR0911
    """A Python value as a ClickHouse literal: a list is an array, a tuple a tuple (for IN)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise WarehouseError(f"cannot render non-finite number {value!r}")
        return repr(value)
    if isinstance(value, datetime):
        return f"toDateTime('{to_utc(value):%Y-%m-%d %H:%M:%S}', 'UTC')"
    if isinstance(value, date):
        return f"toDate('{value.isoformat()}')"
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, tuple):  # for `x IN %(values)s`: 18.16 refuses `IN [array]`
        if not value:
            raise WarehouseError("cannot render an empty tuple (`IN ()` is not SQL)")
        return "(" + ", ".join(literal(v) for v in value) + ")"
    if isinstance(value, list | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(literal(v) for v in items) + "]"
    raise WarehouseError(f"cannot render a {type(value).__name__} as SQL")


def render(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Substitute ``%(name)s`` placeholders with escaped literals."""
    if not params:
        if _PARAM.search(sql):
            raise WarehouseError("query has parameters but none were given")
        return sql

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise WarehouseError(f"query parameter {name!r} was not given")
        return literal(params[name])

    return _PARAM.sub(substitute, sql)


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; naive datetimes are refused (they are ambiguous)."""
    if value.tzinfo is None:
        raise WarehouseError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def split_statements(script: str) -> list[str]:
    """The statements of a migration file (``--`` comments dropped, split at ``;``)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


# ---------------------------------------------------------------------------------------------
# Column types


def strip_nullable(type_name: str) -> tuple[str, bool]:
    """``Nullable(X)`` → ``(X, True)``; anything else → ``(type, False)``."""
    if type_name.startswith("Nullable(") and type_name.endswith(")"):
        return type_name[9:-1], True
    return type_name, False


Converter = Callable[[Any], Any]
ColumnConverter = Callable[[list[Any]], list[Any]]

# Python types a column of each kind accepts as they are; a column holding only these (and None
# where nullable) passes through untouched, which keeps large batches cheap.
_NATIVE: dict[str, frozenset[type]] = {
    "String": frozenset({str}),
    "Float": frozenset({float}),
    "Int": frozenset({int}),
}


def column_converter(
    type_name: str, column: str, value_converter: Converter | None = None
) -> ColumnConverter:
    """A function turning a column of Python values into what the drivers accept for its type.

    Built once per column. A column whose values already have the accepted Python type is
    returned as is (checked at C speed with ``set(map(type, ...))``); others go value by value.
    """
    base, nullable = strip_nullable(type_name)
    convert = value_converter or converter(type_name, column)
    family = "Int" if base.startswith(("UInt", "Int")) else "Float" if base.startswith("Float") else base
    native = _NATIVE.get(family, frozenset()) | ({type(None)} if nullable else frozenset())

    def run(values: list[Any]) -> list[Any]:
        if native and set(map(type, values)) <= native:
            return values
        return [convert(v) for v in values]

    return run


def converter(type_name: str, column: str) -> Converter:
    """A function turning one Python value into what both drivers accept for a column type."""
    base, nullable = strip_nullable(type_name)
    convert = _base_converter(base, column)
    zero = None if nullable else zero_value(base)

    def run(value: Any) -> Any:
        return zero if value is None else convert(value)

    return run


def _base_converter(base: str, column: str) -> Converter:  # noqa: PLR0911
    if base.startswith("DateTime"):
        return lambda v: to_utc(
            datetime.fromisoformat(v) if isinstance(v, str) else _expect(v, datetime, column)
        )
    if base == "Date":
        return _to_date
    if base.startswith("Array("):
        inner = converter(base[6:-1], column)
        return lambda v: [inner(x) for x in v]
    if base.startswith(("UInt", "Int")):
        return int
    if base.startswith("Float"):
        return float
    if base == "String":
        return lambda v: _expect(v, str, column)
    return lambda v: v


def _to_date(value: Any) -> Any:
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _expect(value: Any, kind: type, column: str) -> Any:
    if not isinstance(value, kind):
        raise WarehouseError(f"column {column}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def zero_value(base: str) -> Any:
    """ClickHouse's default for a non-nullable type."""
    if base.startswith(("UInt", "Int")):
        return 0
    if base.startswith("Float"):
        return 0.0
    if base.startswith("Array("):
        return []
    if base.startswith("DateTime"):
        return datetime.fromtimestamp(0, UTC)
    if base == "Date":
        return date(1970, 1, 1)
    return ""


def from_text(value: Any, type_name: str) -> Any:
    """A value read back from a JSON result, turned into its Python type."""
    base, _ = strip_nullable(type_name)
    if value is None:
        return None
    if base.startswith("DateTime"):
        return datetime.fromisoformat(value).replace(tzinfo=column_zone(base)).astimezone(UTC)
    if base == "Date":
        return date.fromisoformat(value)
    if base.startswith("Array(") and isinstance(value, list):
        inner = base[6:-1]
        return [from_text(v, inner) for v in value]
    if base.startswith(("UInt64", "Int64", "UInt128", "Int128")) and isinstance(value, str):
        return int(value)
    return value


def column_zone(base: str) -> tzinfo:
    """The time zone a DateTime column's text is written in (UTC unless it names one)."""
    match = re.match(r"DateTime\('([^']+)'\)", base)
    return ZoneInfo(match.group(1)) if match else UTC


def rows_as_dicts(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Result rows as dicts keyed by column name."""
    return [dict(zip(names, row, strict=True)) for row in rows]
