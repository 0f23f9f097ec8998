"""The review queue over HTTP on both stores: filters and keyset pages through the page itself, bad
parameters as a 400 that says why (in both languages), bulk review and assignment with their audit
entries, an officer held to their MCN, and the CSV export of the filtered set (content, scope,
audit)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from pipeline.config import Settings
from pipeline.console.users import add_user
from pipeline.warehouse import Store
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.console_support import csrf_of, log_in, running_console

pytestmark = pytest.mark.integration
EXTRA = 120  # more starlight violations, so the queue has pages


def ids_on(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text[:400]
    return re.findall(r'name="ids" value="([^"]+)"', page.text)


def next_url(page: httpx.Response) -> str | None:
    found = re.search(r'href="(/violations\?[^"]*after=[^"]+)" id="next-page"', page.text)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[str]:
    scenario.seed(store)
    template = scenario.starlight_violations()[0]
    store.insert(
        "violations",
        [
            violation_row(
                replace(
                    template,
                    event_id=f"extra-{i:03d}",
                    ts=template.ts + timedelta(minutes=i),
                    text=f"=HYPERLINK(1) 第{i}句",
                    severity="low" if i % 2 else "medium",
                )
            )
            for i in range(EXTRA)
        ],
    )
    add_user(store, "cert", "correct horse battery", "certifier", display_name="王审核")
    add_user(store, "li", "correct horse battery", "mcn_officer", mcn_id="mcn-starlight")
    add_user(store, "zhao", "correct horse battery", "mcn_officer", mcn_id="mcn-rival")
    with running_console(store_settings, store) as url:
        yield url


@pytest.fixture
def login(console: str) -> Iterator[Callable[[str], httpx.Client]]:
    """Log in as a user; every client is closed at the end."""
    opened: list[httpx.Client] = []

    def open_as(username: str) -> httpx.Client:
        opened.append(log_in(console, username))
        return opened[-1]

    yield open_as
    for client in opened:
        client.close()


def test_pages_filters_and_bad_input(login: Callable[[str], httpx.Client]) -> None:
    cert = login("cert")
    everything = scenario.starlight_violations() + scenario.rival_violations()
    seen: list[str] = []
    url: str | None = "/violations"
    while url:
        page = cert.get(url)
        seen += ids_on(page)
        url = next_url(page)
    assert len(seen) == len(set(seen)) == len(everything) + EXTRA
    low = ids_on(cert.get("/violations?severity=low&sort=oldest&q=hyperlink"))
    assert low == [f"extra-{i:03d}" for i in range(1, 100, 2)]  # the first page: 50 oldest first
    rival = ids_on(cert.get("/violations", params={"q": scenario.SECRET}))
    assert sorted(rival) == sorted(v.event_id for v in scenario.rival_violations())
    for params, zh, en in [
        ({"severity": "huge"}, "严重程度须为高、中或低", "severity must be high, medium or low"),
        ({"from": "2026-13-01"}, "不是 YYYY-MM-DD 格式", "is not a date written YYYY-MM-DD"),
        ({"from": "2026-11-20", "to": "2026-11-01"}, "起始日期晚于截止日期", "the date 'from' is after"),
        ({"after": "not-a-cursor"}, "翻页位置无效", "the page position is malformed"),
        ({"status": "maybe"}, "复核状态须为列表中的一项", "the review status must be one of pending"),
    ]:
        answer = cert.get("/violations", params=params)
        assert answer.status_code == 400, params
        assert zh in html.unescape(answer.text), (params, answer.text[-800:])
        assert en in html.unescape(cert.get("/violations", params={**params, "lang": "en"}).text)
        cert.cookies.set("cw_lang", "zh")


def test_bulk_dismiss_assign_and_scope(login: Callable[[str], httpx.Client], store: Store) -> None:
    cert, li, zhao = login("cert"), login("li"), login("zhao")
    token = csrf_of(cert)
    picked = ids_on(cert.get("/violations?severity=medium"))[:12]
    answer = cert.post(
        "/violations/bulk",
        data={"csrf_token": token, "action": "dismiss", "reason": "批量：引用竞品", "ids": picked,
              "back": "severity=medium"},
    )  # fmt: skip
    assert answer.status_code == 303
    assert "done=12" in answer.headers["location"]
    dismissed = ids_on(cert.get("/violations?status=dismiss"))
    assert sorted(dismissed) == sorted(picked)
    entries = store.query("SELECT target, details FROM audit_log WHERE action = 'review.dismiss'")
    assert sorted(e["target"] for e in entries) == sorted(picked)
    assert all("批量：引用竞品" in e["details"] for e in entries)
    # no reason, nothing selected, an officer reviewing: refused, nothing written
    assert (
        cert.post(
            "/violations/bulk", data={"csrf_token": token, "action": "confirm", "ids": picked}
        ).status_code
        == 400
    )
    assert (
        cert.post(
            "/violations/bulk", data={"csrf_token": token, "action": "confirm", "reason": "x"}
        ).status_code
        == 400
    )
    li_token = csrf_of(li)
    officer = {"csrf_token": li_token, "action": "confirm", "reason": "x", "ids": picked[:1]}
    assert li.post("/violations/bulk", data=officer).status_code == 403
    # an officer takes rows of their MCN for themselves, not another's and not for someone else
    mine = ids_on(li.get("/violations?severity=low"))[:5]
    take = {"csrf_token": li_token, "action": "assign", "assignee": "li", "ids": mine}
    assert li.post("/violations/bulk", data=take).status_code == 303
    assert sorted(ids_on(li.get("/violations?assigned=me"))) == sorted(mine)
    assert ids_on(cert.get("/violations?assigned=me")) == []
    rival = [v.event_id for v in scenario.rival_violations()]
    assert li.post("/violations/bulk", data={**take, "ids": rival}).status_code == 404
    assert li.post("/violations/bulk", data={**take, "assignee": "cert"}).status_code == 403
    assert not set(ids_on(zhao.get("/violations"))) - set(rival)  # zhao sees mcn-rival's only
    # the certifier cannot give starlight's violations to rival's officer
    refused = cert.post(
        "/violations/bulk", data={"csrf_token": token, "action": "assign", "assignee": "zhao", "ids": mine}
    )
    assert refused.status_code == 400
    assert "zhao 无权处理机构 mcn-starlight 的违规" in html.unescape(refused.text)
    released = cert.post("/violations/bulk", data={"csrf_token": token, "action": "release", "ids": mine[:2]})
    assert released.status_code == 303
    assert sorted(ids_on(li.get("/violations?assigned=me"))) == sorted(mine[2:])
    actions = store.query(
        "SELECT action, count() AS n FROM audit_log WHERE action LIKE 'violation.%' GROUP BY action"
    )
    assert {r["action"]: r["n"] for r in actions} == {"violation.assign": 5, "violation.release": 2}
    page = li.get("/violations?assigned=me")
    assert page.text.count('<td class="assignee">li</td>') == 3


def test_csv_export_of_the_filtered_set(login: Callable[[str], httpx.Client], store: Store) -> None:
    cert, li, zhao = login("cert"), login("li"), login("zhao")
    answer = cert.post("/violations/export.csv", data={"csrf_token": csrf_of(cert), "severity": "low"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["违规编号", "时间", "机构"]
    low = [
        v.event_id
        for v in scenario.starlight_violations() + scenario.rival_violations()
        if v.severity == "low"
    ]
    assert sorted(r[0] for r in rows[1:]) == sorted([f"extra-{i:03d}" for i in range(1, EXTRA, 2)] + low)
    assert {r[7] for r in rows[1:]} == {"低"}
    extras = [r for r in rows[1:] if r[0].startswith("extra-")]
    assert all(r[9].startswith("'=HYPERLINK") for r in extras)  # never run as a formula
    everything = zhao.post("/violations/export.csv", data={"csrf_token": csrf_of(zhao)})
    exported = [r[0] for r in csv.reader(io.StringIO(everything.content.decode("utf-8-sig")))][1:]
    assert sorted(exported) == sorted(v.event_id for v in scenario.rival_violations())
    assert li.post("/violations/export.csv", data={"csrf_token": "wrong"}).status_code == 403
    entries = store.query(
        "SELECT actor, target, mcn_id, details FROM audit_log WHERE action = 'violations.export'"
    )
    by_actor = {e["actor"]: e for e in entries}
    assert set(by_actor) == {"cert", "zhao"}
    assert json.loads(by_actor["cert"]["details"])["filters"] == "severity=low"
    assert by_actor["zhao"]["mcn_id"] == "mcn-rival"
