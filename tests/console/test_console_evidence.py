"""The console's evidence verifier and pages as an attacker and an auditor meet them, over real HTTP
(embedded store): forged, malformed and zip-bomb bundles; an id holding HTML; caching; the login
form's cookie; the daily chart's days in the console's time zone."""

from __future__ import annotations

import html
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipeline.config import Settings, load_settings
from pipeline.console.users import add_user
from pipeline.reporting.signing import fingerprint, key_path, load_or_create_key
from pipeline.warehouse import Store, open_store
from pipeline.warehouse.rows import stream_row, violation_row
from tests import scenario
from tests.conftest import unique_database
from tests.console_support import PASSWORD, csrf_of, log_in, login_token, running_console
from tests.evidence_support import MALFORMED_MANIFESTS, forge, rewrite, signed_zip, zip_bomb

pytestmark = pytest.mark.integration
EFFICACY = next(v for v in scenario.starlight_violations() if v.category == "efficacy_without_registration")
# An anchor id as a hostile producer could have written it before ids were checked at the edge
HOSTILE_ANCHOR = 'anchor-x</script><h1 id="defaced">pwned</h1><script>'


@pytest.fixture(scope="module")
def console_settings(embedded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        warehouse="embedded",
        data_dir=embedded_dir,
        clickhouse_database=unique_database(),
        evidence_key_file=tmp_path_factory.mktemp("keys") / "evidence.pem",
    )


@pytest.fixture(scope="module")
def seeded(console_settings: Settings) -> Iterator[Store]:
    with open_store(console_settings) as store:
        scenario.seed(store)
        hostile = replace(scenario.STARLIGHT, stream_id="hostile-001", anchor_id=HOSTILE_ANCHOR)
        store.insert(
            "streams", [stream_row(replace(hostile, ended_at=hostile.started_at + timedelta(hours=1)))]
        )
        store.insert(
            "violations",
            [
                violation_row(
                    replace(EFFICACY, event_id="hostile-1", stream_id="hostile-001", anchor_id=HOSTILE_ANCHOR)
                )
            ],
        )
        add_user(store, "cert", PASSWORD, "certifier")
        yield store


@pytest.fixture(scope="module")
def console_url(console_settings: Settings, seeded: Store) -> Iterator[str]:
    with running_console(console_settings, seeded) as url:
        yield url


@pytest.fixture(scope="module")
def certifier(console_url: str) -> Iterator[tuple[httpx.Client, str]]:
    client = log_in(console_url, "cert")
    try:
        yield client, csrf_of(client)
    finally:
        client.close()


@pytest.fixture(scope="module")
def exported(certifier: tuple[httpx.Client, str]) -> bytes:
    """A genuine bundle of one violation, exported by the console."""
    client, csrf = certifier
    response = client.post("/evidence/export", data={"violation_id": EFFICACY.event_id, "csrf_token": csrf})
    assert response.status_code == 200, response.text[:300]
    return response.content


def upload(certifier: tuple[httpx.Client, str], data: bytes) -> httpx.Response:
    client, csrf = certifier
    files = {"bundle": ("bundle.zip", data, "application/zip")}
    return client.post("/evidence/verify", files=files, headers={"x-csrf-token": csrf})


def result_text(response: httpx.Response) -> str:
    found = re.search(r'<section class="card [a-z]+" id="verify-result">(.*?)</section>', response.text, re.S)
    assert found, response.text[:500]
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


# -- item 1: a forged bundle -------------------------------------------------------------------


def test_a_genuine_bundle_verifies(certifier: tuple[httpx.Client, str], exported: bytes) -> None:
    response = upload(certifier, exported)
    assert response.status_code == 200
    assert "校验通过" in result_text(response)


def test_a_forged_bundle_is_not_verified(
    certifier: tuple[httpx.Client, str], exported: bytes, console_settings: Settings
) -> None:
    """Edited, its manifest recomputed and re-signed with the forger's key shipped inside."""
    change = {f"transcripts/{EFFICACY.event_id}.json": b'{"segments": []}'}
    forger = Ed25519PrivateKey.generate()
    response = upload(certifier, forge(exported, change, forger))
    assert response.status_code == 400
    text = result_text(response)
    assert "校验通过" not in text
    assert "签名密钥不受信任" in text
    assert fingerprint(forger) in text
    assert "不是受信任的密钥" in text  # "NOT a trusted key", in the page's language
    ours = fingerprint(load_or_create_key(key_path(console_settings)))
    assert ours not in text


# -- item 3: malformed bundles -----------------------------------------------------------------


@pytest.mark.parametrize("manifest", [*MALFORMED_MANIFESTS, None], ids=[*map(str, range(6)), "garbage-key"])
def test_a_malformed_bundle_is_a_400_with_its_reason(
    certifier: tuple[httpx.Client, str], console_settings: Settings, manifest: bytes | None
) -> None:
    """Signed with the console's own key, so what fails is the manifest's shape (or the key)."""
    key = load_or_create_key(key_path(console_settings))
    if manifest is None:
        data, reason = (
            rewrite(signed_zip(key, b'{"files": []}'), {"public_key.pem": b"garbage"}),
            "public_key.pem",
        )
    else:
        data, reason = signed_zip(key, manifest), "manifest.json"
    response = upload(certifier, data)
    assert response.status_code == 400, response.text[:300]
    text = result_text(response)
    assert "校验失败" in text
    assert reason in text


# -- item 2: a zip bomb ------------------------------------------------------------------------


def test_a_zip_bomb_upload_is_refused_without_being_inflated(certifier: tuple[httpx.Client, str]) -> None:
    """1 GiB of zeros in a 1 MB upload, signed by a key the console does not trust: its members are
    never read (before, the console read every file whole: 2 GB more memory for seconds)."""
    bomb = zip_bomb(Ed25519PrivateKey.generate(), 1 << 30)
    assert len(bomb) < 2 << 20
    started = time.monotonic()
    response = upload(certifier, bomb)
    assert time.monotonic() - started < 1.0
    assert response.status_code == 400
    assert "未读取" in result_text(response)  # "not read"


def test_the_upload_limit_fits_a_bundle_not_a_disk() -> None:
    assert load_settings().console_max_upload_bytes <= 64 << 20


# -- item 4: stored HTML in an id --------------------------------------------------------------


def test_an_id_holding_html_cannot_break_out_of_the_chart_data(certifier: tuple[httpx.Client, str]) -> None:
    client, _ = certifier
    page = client.get(f"/?period={scenario.PERIOD}").text
    assert 'id="defaced"' not in page
    assert "<script>" not in page.replace('<script src="', "")
    block = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert block, page[-2000:]
    charts = json.loads(block.group(1))
    assert HOSTILE_ANCHOR in charts["trend_anchor"]["series"]  # still shown, as text


# -- item 10: caching, cookies, days -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/evidence", f"/violations/{EFFICACY.event_id}", "/", "/api/scores", "/api/violations",
     f"/api/violations/{EFFICACY.event_id}", f"/violations/{EFFICACY.event_id}/clip.wav"],
)  # fmt: skip
def test_evidence_pages_and_the_api_are_not_stored(certifier: tuple[httpx.Client, str], path: str) -> None:
    client, _ = certifier
    response = client.get(f"{path}{'&' if '?' in path else '?'}period={scenario.PERIOD}")
    assert response.status_code == 200, response.text[:200]
    assert response.headers.get("cache-control") == "no-store"


def test_an_exported_bundle_is_not_stored(certifier: tuple[httpx.Client, str]) -> None:
    client, csrf = certifier
    response = client.post("/evidence/export", data={"violation_id": EFFICACY.event_id, "csrf_token": csrf})
    assert response.headers.get("cache-control") == "no-store"


def test_static_files_may_be_cached(certifier: tuple[httpx.Client, str]) -> None:
    client, _ = certifier
    assert "no-store" not in client.get("/static/charts.js").headers.get("cache-control", "")


def test_the_login_forms_csrf_cookie_is_secure_with_the_session_cookie(
    console_settings: Settings, seeded: Store
) -> None:
    secure = console_settings.model_copy(update={"console_cookie_secure": True})
    with running_console(secure, seeded) as url, httpx.Client(base_url=url) as client:
        login_token(client)
        cookies = client.get("/login").headers.get_list("set-cookie")
    login_cookie = next(c for c in cookies if c.startswith("cw_login_csrf="))
    assert "secure" in login_cookie.lower()


def test_the_daily_chart_counts_days_in_the_consoles_time_zone(certifier: tuple[httpx.Client, str]) -> None:
    """Local midnight sent as a UTC instant plotted every Beijing day on the day before."""
    client, _ = certifier
    page = client.get(f"/?period={scenario.PERIOD}").text
    block = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert block
    days = {row["day"] for row in json.loads(block.group(1))["per_day"]}
    beijing = ZoneInfo("Asia/Shanghai")
    expected = {
        v.ts.astimezone(beijing).date().isoformat()
        for v in [*scenario.starlight_violations(), *scenario.rival_violations()]
    }
    assert days == expected


def test_the_bundle_report_shows_the_consoles_time(exported: bytes) -> None:
    report = zipfile.ZipFile(io.BytesIO(exported)).read("report.html").decode()
    local = EFFICACY.ts.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{local:%Y-%m-%d %H:%M:%S}" in report
