"""The review lifecycle over real HTTP, on both stores: an officer's appeal with its attachment,
a certifier's decision, refusals (403 by role, 409 by state, with a message in the reader's
language), the same step twice written once, and attachments checked by type and size and served
only to readers who may see the violation."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from pipeline.config import Settings
from pipeline.console.attachments import path_of
from pipeline.console.users import add_user
from pipeline.warehouse import Store
from tests import scenario
from tests.console.test_console_security import Console, serve
from tests.console_support import PASSWORD, csrf_of

pytestmark = pytest.mark.integration
VIOLATION = scenario.starlight_violations()[0].event_id
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"appeal letter " * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
LIMIT = 4096


@pytest.fixture
def console(store: Store, store_settings: Settings) -> Iterator[Console]:
    settings = store_settings.model_copy(update={"console_max_attachment_bytes": LIMIT})
    for running in serve(store, settings):  # seeds the store, then serves it
        add_user(store, "rival-officer", PASSWORD, "mcn_officer", mcn_id="mcn-rival")
        yield running


def act(
    client: httpx.Client, action: str, note: str = "a note", file: tuple[str, bytes, str] | None = None
) -> httpx.Response:
    form = {"decision": action, "reason": note, "csrf_token": csrf_of(client)}
    files = {"attachment": file} if file else None
    return client.post(f"/violations/{VIOLATION}/review", data=form, files=files)


def decisions(store: Store) -> list[str]:
    rows = store.query(
        "SELECT decision FROM reviews FINAL WHERE violation_id = %(v)s ORDER BY reviewed_at, review_id",
        {"v": VIOLATION},
    )
    return [r["decision"] for r in rows]


def test_appeal_with_attachment_then_overturn_and_the_same_step_twice(console: Console) -> None:
    cert, officer = console.login("cert"), console.login("officer")
    assert act(officer, "appeal", "not ours", ("letter.pdf", PDF, "application/pdf")).status_code == 409
    assert act(cert, "confirm").status_code == 303
    assert act(officer, "appeal", "we disagree").status_code == 400  # an appeal needs its attachment
    done = act(officer, "appeal", "我们不同意：见附件", ("申诉函.pdf", PDF, "application/pdf"))
    assert done.status_code == 303, done.text[:300]
    again = act(officer, "appeal", "我们不同意：见附件", ("申诉函.pdf", PDF, "application/pdf"))
    assert again.status_code == 303  # a no-op, not a second row
    assert decisions(console.store) == ["confirm", "appeal"]
    sha = hashlib.sha256(PDF).hexdigest()
    page = officer.get(f"/violations/{VIOLATION}").text
    assert 'data-state="appealed"' in page
    assert "申诉函.pdf" in page
    assert sha[:12] in page
    assert 'id="appeal"' not in page  # nothing left for the officer to do
    assert 'id="uphold"' in cert.get(f"/violations/{VIOLATION}").text
    assert path_of(console.settings.data_dir, sha).read_bytes() == PDF
    assert act(cert, "overturn", "the term was quoted").status_code == 303
    assert act(cert, "overturn", "the term was quoted").status_code == 303
    assert decisions(console.store) == ["confirm", "appeal", "overturn"]
    refused = act(cert, "uphold", "changed my mind")
    assert refused.status_code == 409
    assert "申诉成立，撤销违规" in refused.text  # the state by its name, in the reader's language
    english = cert.post(
        f"/violations/{VIOLATION}/review?lang=en",
        data={"decision": "uphold", "reason": "x", "csrf_token": csrf_of(cert)},
    )
    assert english.status_code == 409
    assert "This violation is overturned" in english.text
    audit = console.store.query(
        "SELECT action, details FROM audit_log WHERE target = %(v)s ORDER BY ts, entry_id", {"v": VIOLATION}
    )
    actions = [r["action"] for r in audit if r["action"].startswith("review.")]
    assert sorted(actions) == ["review.appeal", "review.confirm", "review.overturn"]  # once each
    appeal = json.loads(next(r["details"] for r in audit if r["action"] == "review.appeal"))
    assert appeal["sha256"] == sha
    assert appeal["before"] == "confirmed"
    assert appeal["state"] == "appealed"


def test_each_role_takes_only_its_own_steps(console: Console) -> None:
    cert, officer, auditor = console.login("cert"), console.login("officer"), console.login("auditor")
    assert act(officer, "confirm").status_code == 403
    assert act(auditor, "dismiss").status_code == 403
    assert act(cert, "confirm").status_code == 303
    assert act(cert, "appeal", file=("a.pdf", PDF, "application/pdf")).status_code == 403
    assert act(cert, "bogus").status_code == 400
    rival = console.login("rival-officer")
    assert act(rival, "appeal", file=("a.pdf", PDF, "application/pdf")).status_code == 404
    assert act(officer, "rectify", "script corrected").status_code == 303  # no attachment needed
    assert decisions(console.store) == ["confirm", "rectify"]


def test_attachments_of_a_wrong_type_or_size_are_refused_and_not_stored(console: Console) -> None:
    cert, officer = console.login("cert"), console.login("officer")
    assert act(cert, "confirm").status_code == 303
    text = b"just some text, not a PDF at all"
    renamed = PDF + secrets.token_bytes(8)  # stored by no other test (the embedded data dir is shared)
    for name, data in (
        ("letter.pdf", text),
        ("photo.pdf", PNG),
        ("run.exe", renamed),
        ("letter.pdf", b"%PDF"),
    ):
        response = act(officer, "appeal", file=(name, data, "application/pdf"))
        if data == b"%PDF":  # too short to be one: no magic match
            assert response.status_code == 400
            continue
        assert response.status_code == 400, (name, response.status_code)
        assert "附件只能是 PDF, PNG, JPG 文件" in response.text or "文件名与文件内容的类型" in response.text
        assert not path_of(console.settings.data_dir, hashlib.sha256(data).hexdigest()).exists()
    big = renamed + b"x" * LIMIT
    oversize = act(officer, "appeal", file=("big.pdf", big, "application/pdf"))
    assert oversize.status_code == 413
    assert "console_max_attachment_bytes" in act(officer, "appeal", file=("big.pdf", big, "x")).text
    assert not path_of(console.settings.data_dir, hashlib.sha256(big).hexdigest()).exists()
    huge = act(officer, "appeal", file=("huge.pdf", PDF + b"x" * (2 << 20), "application/pdf"))
    assert huge.status_code == 413  # past the body limit as well: refused before it is read
    assert decisions(console.store) == ["confirm"]
    assert act(officer, "appeal", file=("photo.PNG", PNG, "image/png")).status_code == 303


def test_an_attachment_is_served_only_to_readers_of_its_violation(console: Console) -> None:
    cert, officer = console.login("cert"), console.login("officer")
    assert act(cert, "confirm").status_code == 303
    assert act(officer, "appeal", file=("申诉函.pdf", PDF, "application/pdf")).status_code == 303
    sha = hashlib.sha256(PDF).hexdigest()
    url = f"/violations/{VIOLATION}/attachments/{sha}"
    for reader in (officer, cert, console.login("auditor")):
        got = reader.get(url)
        assert got.status_code == 200
        assert got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == f'attachment; filename="attachment-{sha[:12]}.pdf"'
        assert got.headers["x-content-type-options"] == "nosniff"
    rival = console.login("rival-officer")
    assert rival.get(url).status_code == 404  # another MCN's officer: as if there were none
    other = scenario.starlight_violations()[1].event_id
    assert officer.get(f"/violations/{other}/attachments/{sha}").status_code == 404  # not listed there
    for bad in ("0" * 64, "../../../etc/passwd", sha.upper()):
        assert officer.get(f"/violations/{VIOLATION}/attachments/{bad}").status_code == 404
    with httpx.Client(base_url=console.url) as anonymous:
        assert anonymous.get(url).status_code == 303  # to the login page
