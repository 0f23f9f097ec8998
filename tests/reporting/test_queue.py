"""The review queue's query builder, without a store: parameters to filters (and a clear error for
a bad one), cursors that round-trip and refuse tampering, and SQL that keeps the scope token,
never uses OFFSET or tuple comparison (18.16), and reads the small tables with GLOBAL IN."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest

from pipeline.reporting.queue import (
    STATUSES,
    Cursor,
    QueueError,
    QueueFilter,
    decode_cursor,
    encode_cursor,
    page_sql,
    parse_filters,
    rows_sql,
    where_sql,
)
from pipeline.reporting.scope import Scope, ScopeError, scoped_sql

TZ = "Asia/Shanghai"


def test_parameters_become_a_filter() -> None:
    f = parse_filters(
        {"category": "price", "severity": "high", "status": "pending", "anchor": " a-1 ", "stream": "s",
         "kind": "claim", "q": "  最低价 ", "assigned": "me", "from": "2026-11-01", "to": "2026-11-30",
         "sort": "severity"},
        TZ,
    )  # fmt: skip
    assert f == QueueFilter("price", "high", "pending", "a-1", "s", "claim", "最低价", "me",
                            date(2026, 11, 1), date(2026, 11, 30), "severity")  # fmt: skip
    assert parse_filters({}, TZ) == QueueFilter()
    assert dict(f.query_string_items())["q"] == "最低价"
    assert "sort" not in dict(parse_filters({"sort": "newest"}, TZ).query_string_items())


def test_a_month_is_its_local_days_and_dates_win_over_it() -> None:
    f = parse_filters({"period": "2026-02"}, TZ)
    assert (f.date_from, f.date_to) == (date(2026, 2, 1), date(2026, 2, 28))
    f = parse_filters({"period": "2026-02", "from": "2026-02-10"}, TZ)
    assert (f.date_from, f.date_to) == (date(2026, 2, 10), None)
    _, params = where_sql(parse_filters({"from": "2026-11-01", "to": "2026-11-01"}, TZ), TZ)
    # a Shanghai day is [16:00 the day before, 16:00) in UTC
    assert params["ts_from"] == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert params["ts_to"] == datetime(2026, 11, 1, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"severity": "huge"}, "severity must be one of high, medium, low"),
        ({"status": "maybe"}, f"status must be one of {', '.join(STATUSES)}"),
        ({"kind": "x"}, "kind must be one of claim, qualification, ledger"),
        ({"sort": "random"}, "sort must be one of newest, oldest, severity"),
        ({"assigned": "them"}, "assigned must be one of me, nobody"),
        ({"category": "Price!"}, "category 'Price!' is not a code"),
        ({"category": "x' OR 1=1"}, "is not a code"),
        ({"from": "2026-02-30"}, "the date 'from' '2026-02-30' is not a date written YYYY-MM-DD"),
        ({"to": "20261101"}, "is not a date written YYYY-MM-DD"),
        ({"from": "1900-01-01"}, "outside the years"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "the date 'from' is after the date 'to'"),
        ({"q": "x" * 101}, "the search text is longer than 100 characters"),
        ({"anchor": "a" * 201}, "the anchor id is longer than 200 characters"),
        ({"after": "%%%"}, "the page position is malformed"),
        ({"period": "2026-13"}, "is not a month written YYYY-MM"),
    ],
)
def test_bad_parameters_say_what_is_wrong(params: dict[str, str], message: str) -> None:
    with pytest.raises(ScopeError, match=None) as raised:
        parse_filters(params, TZ)
    assert message in str(raised.value)


def test_cursors_round_trip_and_refuse_tampering() -> None:
    cursor = Cursor("severity", datetime(2026, 11, 20, 12, 0, 5, tzinfo=UTC), "违规-ä/1", 3)
    token = encode_cursor(cursor)
    assert "=" not in token
    assert "/" not in token
    assert "+" not in token  # safe in a URL as it is
    assert decode_cursor(token) == cursor
    assert parse_filters({"sort": "severity", "after": token}, TZ).cursor == cursor
    with pytest.raises(QueueError, match="belongs to another sort order"):
        parse_filters({"after": token}, TZ)  # a severity cursor on the newest-first order
    for forged in (
        [["newest", 1, "x", 0, 9]],  # too many fields
        ["random", 1, "x", 0],
        ["newest", "1", "x", 0],
        ["newest", 1, 5, 0],
        ["newest", 1, "x", 7],
        ["newest", 10**12, "x", 0],  # past the years a DateTime holds
        ["newest", 1, "x" * 201, 0],
    ):
        raw = base64.urlsafe_b64encode(repr(forged).replace("'", '"').encode()).decode()
        with pytest.raises(QueueError, match="the page position is malformed"):
            decode_cursor(raw)
    for junk in ("", "!!!!", "a" * 900, base64.urlsafe_b64encode(b"\xff\xfe").decode()):
        with pytest.raises(QueueError):
            decode_cursor(junk)


def test_the_sql_is_scoped_keyset_and_portable() -> None:
    f = parse_filters({"status": "confirm", "assigned": "me", "q": "x", "category": "price"}, TZ)
    for sort in ("newest", "oldest", "severity"):
        cursor = Cursor(sort, datetime(2026, 11, 1, tzinfo=UTC), "e", 2)  # type: ignore[arg-type]
        sql, params = page_sql(QueueFilter(**{**_fields(f), "sort": sort, "cursor": cursor}), TZ, user="li")
        assert "OFFSET" not in sql.upper()
        assert "(ts, event_id)" not in sql  # no tuple comparison: 18.16
        assert sql.count("GLOBAL IN") == 3  # the decision, the assignee, the product's name
        assert params["assignee"] == "li"
        assert params["status"] == "confirm"
        assert params["limit"] == 51
        assert "{scope}" in sql
        scoped = scoped_sql(sql, Scope.only("mcn-a"))
        assert "{scope}" not in scoped
        assert scoped.count("mcn_id IN") == 4  # violations and each subquery
    pending, _ = where_sql(parse_filters({"status": "pending", "assigned": "nobody"}, TZ), TZ)
    assert pending.count("GLOBAL NOT IN") == 2
    sql, params = rows_sql([{"event_id": "b", "ts": datetime(2026, 1, 2, tzinfo=UTC)},
                            {"event_id": "a", "ts": datetime(2026, 1, 1, tzinfo=UTC)}])  # fmt: skip
    assert params["ids"] == ["b", "a"]
    assert params["lo"] < params["hi"]
    assert "{scope}" in sql


def _fields(f: QueueFilter) -> dict[str, object]:
    return {name: getattr(f, name) for name in QueueFilter.__dataclass_fields__}
