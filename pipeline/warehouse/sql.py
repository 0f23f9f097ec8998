"""SQL text shared by both stores: parameter rendering and value conversion by column type.

Parameters are written ``%(name)s`` and rendered here into escaped literals, the same way for
clickhouse-server and chdb (server-side query parameters do not exist on 18.16). Rendering is
the only way values enter SQL text, so every reader is safe from injection by construction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.errors import RowRefused, WarehouseError
from pipeline.records import EARLIEST_TIME, LATEST_TIME

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


def where_clause(
    equal: Mapping[str, Any], *, as_of: tuple[str, datetime | None] = ("", None)
) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text and parameters for the given columns equal to their values (a None value
    filters nothing) and, with ``as_of=(column, time)``, that time column at or before it."""
    where, params = ["1 = 1"], {}
    for column, value in equal.items():
        if value is not None:
            where.append(f"{quote_identifier(column)} = %({column})s")
            params[column] = value
    column, at = as_of
    if at is not None:
        where.append(f"{quote_identifier(column)} <= %(as_of)s")
        params["as_of"] = at
    return "WHERE " + " AND ".join(where), params


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

# What a column of each type can hold, the same on clickhouse-server 18.16 and chdb (tried on
# both: outside these ranges 18.16 refuses the insert, or stores a Date as 1970-01-01, while chdb
# clamps a time to 1970 or 2106 and wraps an integer, without a word). Values are checked against
# them before they are sent, so both stores refuse the same rows, by column, before any is written.
DATE_RANGE = (date(1970, 1, 1), date(2149, 6, 6))  # Date: days since the epoch in a UInt16
FLOAT32_MAX = 3.4028234663852886e38
_INT_TYPE = re.compile(r"(U?)Int(8|16|32|64|128|256)")
_SURROGATE = re.compile("[\ud800-\udfff]")  # a str that UTF-8 cannot encode


def int_range(base: str) -> tuple[int, int] | None:
    """The least and greatest value of an integer column type (None for other types)."""
    match = _INT_TYPE.fullmatch(base)
    if match is None:
        return None
    bits = int(match.group(2))
    return (0, 2**bits - 1) if match.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _refused(column: str, value: Any, why: str) -> RowRefused:
    shown = value.isoformat() if isinstance(value, date) else repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return RowRefused(f"column {column}: {shown} {why}", column=column)


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

    check = _column_check(base, column)

    def run(values: list[Any]) -> list[Any]:
        if native and set(map(type, values)) <= native:
            check(values)
            return values
        return [convert(v) for v in values]

    return run


def _column_check(base: str, column: str) -> Callable[[list[Any]], None]:
    """The range check of a column whose values pass through unconverted (at C speed)."""
    bounds = int_range(base)
    if bounds is not None:
        low, high = bounds

        def check_ints(values: list[Any]) -> None:
            present = [v for v in values if v is not None] if None in values else values
            if present and not (low <= min(present) and max(present) <= high):
                bad = next(v for v in present if not low <= v <= high)
                raise _refused(column, bad, f"is outside {base}'s range {low}..{high}")

        return check_ints
    if base == "String":

        def check_text(values: list[Any]) -> None:
            if _SURROGATE.search("".join(filter(None, values))):
                bad = next(v for v in values if v and _SURROGATE.search(v))
                raise _refused(column, bad, "is not valid Unicode (a lone surrogate: not UTF-8)")

        return check_text
    if base == "Float32":

        def check_floats(values: list[Any]) -> None:
            for value in values:
                if value is not None:
                    _to_float32(value, column)

        return check_floats
    return lambda values: None


def converter(type_name: str, column: str) -> Converter:
    """A function turning one Python value into what both drivers accept for a column type."""
    base, nullable = strip_nullable(type_name)
    convert = _base_converter(base, column)
    zero = None if nullable else zero_value(base)

    def run(value: Any) -> Any:
        if value is None:
            return zero
        try:
            return convert(value)
        except (ValueError, TypeError, OverflowError) as exc:  # int("x"), fromisoformat("x")…
            raise _refused(column, value, f"cannot be stored as {base} ({exc})") from None

    return run


def _base_converter(base: str, column: str) -> Converter:  # noqa: PLR0911
    if base.startswith("DateTime"):
        return lambda v: _to_time(v, column)
    if base == "Date":
        return lambda v: _to_date(v, column)
    if base.startswith("Array("):
        inner = converter(base[6:-1], column)
        return lambda v: [inner(x) for x in v]
    bounds = int_range(base)
    if bounds is not None:
        return lambda v: _to_int(v, column, base, bounds)
    if base == "Float32":
        return lambda v: _to_float32(float(v), column)
    if base.startswith("Float"):
        return float
    if base == "String":
        return lambda v: _to_text(v, column)
    return lambda v: v


def _to_time(value: Any, column: str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else _expect(value, datetime, column)
    if parsed.tzinfo is None:
        raise _refused(column, value, "is a naive datetime (no time zone)")
    parsed = parsed.astimezone(UTC)
    if not EARLIEST_TIME <= parsed < LATEST_TIME + timedelta(seconds=1):
        span = f"{EARLIEST_TIME:%Y-%m-%d %H:%M:%S} .. {LATEST_TIME:%Y-%m-%d %H:%M:%S} UTC"
        raise _refused(column, value, f"is outside DateTime's range {span}")
    return parsed


def _to_date(value: Any, column: str) -> date:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    day = _expect(value, date, column)
    day = day.date() if isinstance(day, datetime) else day
    if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
        raise _refused(column, value, f"is outside Date's range {DATE_RANGE[0]} .. {DATE_RANGE[1]}")
    return day


def _to_int(value: Any, column: str, base: str, bounds: tuple[int, int]) -> int:
    number = int(value)
    if not bounds[0] <= number <= bounds[1]:
        raise _refused(column, value, f"is outside {base}'s range {bounds[0]}..{bounds[1]}")
    return number


def _to_float32(value: float, column: str) -> float:
    if math.isfinite(value) and abs(value) > FLOAT32_MAX:
        raise _refused(column, value, "is too large for Float32")
    return value


def _to_text(value: Any, column: str) -> str:
    text: str = _expect(value, str, column)
    if _SURROGATE.search(text):
        raise _refused(column, value, "is not valid Unicode (a lone surrogate: not UTF-8)")
    return text


def _expect(value: Any, kind: type, column: str) -> Any:
    if not isinstance(value, kind):
        raise RowRefused(
            f"column {column}: expected {kind.__name__}, got {type(value).__name__}", column=column
        )
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
