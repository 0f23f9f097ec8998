"""What a query may see: which MCNs (the scope) and which month (the period).

Every query that reads MCN data is written with a ``{scope}`` token where its MCN filter goes, and
runs through :func:`scoped_query`, which refuses SQL without the token. The token becomes
``mcn_id IN [...]`` for an MCN officer, ``1 = 1`` for a certifier and ``0 = 1`` for a scope that
allows nothing, so the MCN restriction lives in the query layer, not in menus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import ClaimWatchError
from pipeline.warehouse import Store

SCOPE_TOKEN = "{scope}"
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
YEARS = (1970, 2105)


class ScopeError(ClaimWatchError):
    """A query was written without its MCN scope, or a period is malformed."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The MCNs a reader may see: ``mcn_ids=None`` means all of them, an empty set none."""

    mcn_ids: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def only(cls, mcn_id: str) -> Scope:
        return cls(frozenset({mcn_id}))

    def allows(self, mcn_id: str) -> bool:
        return self.mcn_ids is None or mcn_id in self.mcn_ids

    def narrow(self, mcn_id: str | None) -> Scope:
        """This scope further limited to one MCN (nothing when the MCN is outside it)."""
        if mcn_id is None:
            return self
        return Scope(frozenset({mcn_id})) if self.allows(mcn_id) else Scope(frozenset())

    def condition(self, column: str = "mcn_id") -> str:
        if self.mcn_ids is None:
            return "(1 = 1)"
        if not self.mcn_ids:
            return "(0 = 1)"
        names = ", ".join(f"%(scope_mcn_{i})s" for i in range(len(self.mcn_ids)))
        return f"({column} IN ({names}))"  # a tuple: 18.16 refuses `IN [array]`

    def params(self) -> dict[str, Any]:
        return {f"scope_mcn_{i}": m for i, m in enumerate(sorted(self.mcn_ids or ()))}


def scoped_sql(sql: str, scope: Scope) -> str:
    """``sql`` with its scope token(s) replaced; refuses SQL that has none."""
    if SCOPE_TOKEN not in sql:
        raise ScopeError("query has no {scope} filter; every query of MCN data must be scoped")
    return sql.replace(SCOPE_TOKEN, scope.condition())


def scoped_query(
    store: Store, sql: str, scope: Scope, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run a query of MCN data limited to ``scope``."""
    return store.query(scoped_sql(sql, scope), {**(params or {}), **scope.params()} or None)


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month in a time zone, as the UTC interval [start, end)."""

    year: int
    month: int
    timezone: str

    @classmethod
    def parse(cls, text: str, timezone: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match:
            raise ScopeError(f"period {text!r} is not a month written YYYY-MM")
        _zone(timezone)
        year = int(match.group(1))
        if not YEARS[0] <= year <= YEARS[1]:  # what the warehouse's DateTime columns can hold
            raise ScopeError(f"period {text!r} is outside the years {YEARS[0]}-{YEARS[1]}")
        return cls(year, int(match.group(2)), timezone)

    @classmethod
    def containing(cls, moment: datetime, timezone: str) -> Period:
        local = moment.astimezone(_zone(timezone))
        return cls(local.year, local.month, timezone)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=_zone(self.timezone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    @property
    def last_day(self) -> date:
        return (datetime(self.year, self.month, 1) + timedelta(days=32)).replace(day=1).date() - timedelta(1)

    def next(self) -> Period:
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return Period(year, month, self.timezone)

    def previous(self) -> Period:
        year, month = (self.year - 1, 12) if self.month == 1 else (self.year, self.month - 1)
        return Period(year, month, self.timezone)

    def recent(self, count: int) -> list[Period]:
        """The ``count`` periods ending with this one, oldest first."""
        periods = [self]
        while len(periods) < count:
            periods.append(periods[-1].previous())
        return periods[::-1]

    def params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScopeError(f"unknown time zone {name!r}") from None
