"""The selling-point card pages over real HTTP, on both stores: an officer sees its own MCN's cards
only (another MCN's card is a 404 like a missing one), every finding of the CLI's review is shown
with its legal basis and rewrite, approval needs an override reason for a card with high findings,
is recorded and audited, is for officers only, and needs the session's CSRF token."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from pipeline.checks.cards import CardReviewer
from pipeline.config import Settings
from pipeline.console.labels import legal_basis_text
from pipeline.console.users import add_user
from pipeline.records import Card, SellingPoint
from pipeline.reporting.audit import recent
from pipeline.reporting.scope import Scope
from pipeline.warehouse import Store
from pipeline.warehouse.cards import card_versions, save_cards
from pipeline.warehouse.ledger import current_ledger
from pipeline.warehouse.rows import violation_row
from tests import scenario
from tests.console_support import PASSWORD, csrf_of, log_in, running_console

pytestmark = pytest.mark.integration
STARLIGHT = "mcn-starlight"
FACE_CREAM = Card(  # P-1001 has a cosmetics filing only: 美白 is a high finding, 全网最低价 a price claim
    STARLIGHT,
    "P-1001",
    (
        SellingPoint(2, "深层保湿，质地轻薄"),
        SellingPoint(3, "用了就能美白淡斑"),
        SellingPoint(4, "全网最低价"),
    ),
    source="brand_cards.xlsx",
)
PYJAMAS = Card(STARLIGHT, "P-1004", (SellingPoint(2, "新疆长绒棉，亲肤透气"),), source="pyjamas.docx")
RIVAL_CARD = Card(
    "mcn-rival", "P-9001", (SellingPoint(2, f"{scenario.SECRET} 补水保湿"),), source="rival.txt"
)
OVERRIDE = "品牌已提交国妆特字注册，第3行直播中不得使用"


class Console:
    def __init__(self, url: str, store: Store, settings: Settings) -> None:
        self.url, self.store, self.settings = url, store, settings
        self.clients: list[httpx.Client] = []

    def login(self, username: str) -> httpx.Client:
        self.clients.append(log_in(self.url, username))
        return self.clients[-1]

    def card(self, product_id: str, mcn_id: str = STARLIGHT) -> Card:
        (found,) = [c for c in card_versions(self.store, mcn_id, product_id) if c.version == 1]
        return found


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[Console]:
    scenario.seed(store)
    save_cards(store, [FACE_CREAM, PYJAMAS, RIVAL_CARD], imported_at=datetime(2026, 11, 1, 2, tzinfo=UTC))
    add_user(store, "cert", PASSWORD, "certifier")
    add_user(store, "officer", PASSWORD, "mcn_officer", mcn_id=STARLIGHT)
    add_user(store, "auditor", PASSWORD, "auditor")
    add_user(store, "rivalofficer", PASSWORD, "mcn_officer", mcn_id="mcn-rival")
    with running_console(store_settings, store) as url:
        running = Console(url, store, store_settings)
        yield running
        for client in running.clients:
            client.close()


def approve(client: httpx.Client, product_id: str, *, mcn_id: str = STARLIGHT, **form: str) -> httpx.Response:
    path = f"/cards/{quote(mcn_id)}/{quote(product_id)}/approve"
    return client.post(path, data={"version": "1", "csrf_token": csrf_of(client), **form})


def test_an_officer_sees_only_its_own_mcns_cards(console: Console) -> None:
    officer, certifier = console.login("officer"), console.login("cert")
    listed = officer.get("/cards")
    assert listed.status_code == 200
    assert 'data-card="mcn-starlight/P-1001"' in listed.text
    assert 'data-card="mcn-starlight/P-1004"' in listed.text
    assert "玻尿酸保湿面霜" in listed.text  # the product's name, from the ledger
    for marker in (scenario.SECRET, "mcn-rival", "P-9001"):
        assert marker not in listed.text
    for probe in (
        "/cards/mcn-rival/P-9001",
        "/cards/mcn-rival/P-9001?version=1",
        "/cards/mcn-starlight/P-9001",
    ):
        refused = officer.get(probe)
        assert refused.status_code == 404, probe
        assert scenario.SECRET not in refused.text
    assert officer.get("/cards/mcn-nowhere/P-1").status_code == 404  # the same answer as a missing card
    assert approve(officer, "P-9001", mcn_id="mcn-rival").status_code == 404
    assert console.card("P-9001", "mcn-rival").status == "draft"
    # the certifier sees every MCN's cards, so the checks above can fail
    assert 'data-card="mcn-rival/P-9001"' in certifier.get("/cards").text
    assert scenario.SECRET in certifier.get("/cards/mcn-rival/P-9001").text
    probes = [e for e in recent(console.store, Scope.everything()) if e["action"] == "access.not_found"]
    assert any(e["target"] == "/cards/mcn-rival/P-9001" and e["actor"] == "officer" for e in probes)


def test_the_card_page_shows_the_clis_review(console: Console) -> None:
    page = console.login("officer").get("/cards/mcn-starlight/P-1001")
    assert page.status_code == 200
    entry = {e.product_id: e for e in current_ledger(console.store, STARLIGHT)}["P-1001"]
    review = CardReviewer.load(console.settings.lexicon_dir).review(
        console.card("P-1001"), entry, at=datetime.now(UTC)
    )
    assert {f.check for f in review.high} == {"efficacy_without_registration", "price"}
    english = console.clients[-1].get("/cards/mcn-starlight/P-1001?lang=en").text
    for finding in review.findings:
        assert f'data-check="{finding.check}"' in page.text
        # the legal basis in the page's language: its Chinese citations on the Chinese page
        assert html.escape(legal_basis_text(finding.legal_basis, "zh")) in page.text
        assert html.escape(legal_basis_text(finding.legal_basis, "en")) in english
        assert finding.rewrite
        assert html.escape(finding.rewrite) in page.text
    line_3 = re.search(r'<tr data-line="3" class="sev-high">(.*?)</tr>', page.text, re.S)
    assert line_3
    assert "efficacy_without_registration" in line_3.group(1)
    assert '<tr data-line="2" class="">' in page.text  # 深层保湿 is what the filing covers
    assert 'id="approve-form"' in page.text
    assert "草稿" in page.text


def test_approval_of_a_card_with_high_findings_needs_an_override_reason(console: Console) -> None:
    officer = console.login("officer")
    for reason in ("", "   "):
        refused = approve(officer, "P-1001", override_reason=reason)
        assert refused.status_code == 400
        assert 'id="card-error"' in refused.text
        assert "豁免理由" in refused.text
    assert console.card("P-1001").status == "draft"
    assert not [e for e in recent(console.store, Scope.everything()) if e["action"] == "card.approve"]

    done = approve(officer, "P-1001", override_reason=OVERRIDE)
    assert done.status_code == 303
    assert done.headers["location"] == "/cards/mcn-starlight/P-1001?version=1"
    card = console.card("P-1001")
    assert (card.status, card.approved_by, card.override_reason) == ("approved", "officer", OVERRIDE)
    assert card.approved_at is not None
    (entry,) = [e for e in recent(console.store, Scope.only(STARLIGHT)) if e["action"] == "card.approve"]
    assert (entry["actor"], entry["target"], entry["mcn_id"]) == (
        "officer",
        "card:mcn-starlight/P-1001/v1",
        STARLIGHT,
    )
    details = json.loads(entry["details"])
    assert details["override_reason"] == OVERRIDE
    assert details["high"] == 2  # 美白 without a registration, 全网最低价
    assert details["findings"] >= 2

    beijing = card.approved_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    shown = officer.get("/cards/mcn-starlight/P-1001")
    assert "已审核" in shown.text
    assert OVERRIDE in shown.text
    assert beijing in shown.text
    assert 'id="approve-form"' not in shown.text  # approved once
    listed = officer.get("/cards")
    row = re.search(r'<tr data-card="mcn-starlight/P-1001".*?</tr>', listed.text, re.S)
    assert row
    for shown_there in ("已审核", "officer", beijing):
        assert shown_there in row.group()
    again = approve(officer, "P-1001", override_reason=OVERRIDE)
    assert again.status_code == 400
    assert len([e for e in recent(console.store, Scope.everything()) if e["action"] == "card.approve"]) == 1


def test_a_clean_card_is_approved_without_a_reason(console: Console) -> None:
    officer = console.login("officer")
    assert approve(officer, "P-1004").status_code == 303
    card = console.card("P-1004")
    assert (card.status, card.override_reason) == ("approved", "")
    row = re.search(r'<tr data-card="mcn-starlight/P-1004".*?</tr>', officer.get("/cards").text, re.S)
    assert row
    assert "已审核" in row.group()


def test_only_an_officer_of_the_cards_mcn_approves(console: Console) -> None:
    for username in ("cert", "auditor"):
        client = console.login(username)
        assert 'id="approve-form"' not in client.get("/cards/mcn-starlight/P-1004").text
        assert approve(client, "P-1004").status_code == 403
    rival = console.login("rivalofficer")
    assert approve(rival, "P-1004").status_code == 404  # outside its scope: not found
    assert console.card("P-1004").status == "draft"


def test_approval_needs_the_csrf_token(console: Console) -> None:
    officer = console.login("officer")
    path = "/cards/mcn-starlight/P-1004/approve"
    assert officer.post(path, data={"version": "1"}).status_code == 403
    assert officer.post(path, data={"version": "1", "csrf_token": "wrong"}).status_code == 403
    assert officer.post(path, data={"version": "1"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert console.card("P-1004").status == "draft"
    refusals = [e for e in recent(console.store, Scope.everything()) if e["action"] == "access.forbidden"]
    assert any(e["target"] == path for e in refusals)


@pytest.mark.parametrize(
    "url",
    [
        "/cards/mcn-starlight/P-1001?version=abc",
        "/cards/mcn-starlight/P-1001?version=99",
        "/cards/mcn-starlight/P-1001?version=-1",
        "/cards/%27%20OR%20%271%27%3D%271/P-1001",
        "/cards/mcn-starlight/%7Bscope%7D",
        "/cards/mcn-starlight/x%27)%20OR%20(%271%27%3D%271",
    ],
)
def test_odd_parameters_are_refusals_not_errors(console: Console, url: str) -> None:
    response = console.login("officer").get(url)
    assert response.status_code in (400, 404), (url, response.status_code)
    assert scenario.SECRET not in response.text


def test_a_claim_off_the_approved_card_is_marked_on_the_live_wall_and_its_page(console: Console) -> None:
    first = scenario.starlight_violations()[0]  # said now: the live wall shows the last 24 hours
    said = replace(first, event_id="off-card-1", off_card=True, ts=datetime.now(UTC).replace(microsecond=0))
    console.store.insert("violations", [violation_row(said)])
    officer = console.login("officer")
    body = officer.get("/live/events?since=2000-01-01T00:00:00Z|&max_s=0.5").text
    sent = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    events = {e["event_id"]: e for e in sent}
    assert events["off-card-1"]["off_card"] is True
    assert events["off-card-1"]["category"].endswith("（卡外）")
    others = [e for e in events.values() if e["event_id"] != "off-card-1"]
    assert others
    assert not any(e["off_card"] or "卡外" in e["category"] for e in others)
    wall = officer.get("/live").text
    assert wall.count(" off-card") == 1
    assert "（卡外）" in wall
    assert "（卡外） <span" not in officer.get(f"/violations/{others[0]['event_id']}").text
    assert "（卡外） <span" in officer.get("/violations/off-card-1").text
    assert " (off card)" in officer.get("/live?lang=en").text
