"""Evidence export and verification pages, and the audit log page."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from pipeline.console.auth import CheckedUser, CurrentUser
from pipeline.console.context import page, state
from pipeline.console.pages import default_period
from pipeline.reporting.audit import recent, record
from pipeline.reporting.evidence import EvidenceError, Subject, collect_cases, verify_bundle, write_bundle
from pipeline.reporting.scope import Period, scoped_query
from pipeline.reporting.signing import TrustedKeys, installation_keys, key_path, load_or_create_key

router = APIRouter()
UNPACKED_PER_UPLOADED = 4  # a bundle's files unpack to about its size (clips do not compress)


@router.get("/evidence", response_class=HTMLResponse)
def evidence_page(request: Request, user: CurrentUser) -> Response:
    console = state(request)
    anchors = scoped_query(
        console.store,
        "SELECT DISTINCT anchor_id, mcn_id FROM violations FINAL WHERE {scope} ORDER BY mcn_id, anchor_id",
        user.scope,
    )
    return page(
        request,
        "evidence.html",
        user,
        anchors=anchors,
        period=default_period(console, user.scope),
        result=None,
    )


@router.post("/evidence/export")
def export(
    request: Request,
    user: CheckedUser,
    violation_id: Annotated[str, Form(max_length=200)] = "",
    anchor_id: Annotated[str, Form(max_length=200)] = "",
    period: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    console = state(request)
    if not user.can_export:
        raise HTTPException(403)
    month = Period.parse(period, console.settings.timezone) if period else None
    subject = Subject(violation_id=violation_id or None, anchor_id=anchor_id or None, period=month)
    try:
        cases = collect_cases(
            console.store, user.scope, subject, context_s=console.settings.evidence_context_s
        )
    except EvidenceError as exc:
        raise HTTPException(404, str(exc)) from None
    key = load_or_create_key(key_path(console.settings))
    # Written to a temporary file, not memory (a month's clips are large), and sent from there.
    spool = tempfile.NamedTemporaryFile(prefix="claimwatch-export-", suffix=".zip", delete=False)  # noqa: SIM115
    try:
        with spool:
            # Cutting the clips and zipping is CPU work: done by the console's export threads (at
            # most console_exports_at_once, at a lower OS priority), so that pages keep theirs.
            console.exporter.run(
                write_bundle,
                cases,
                key,
                spool.file,
                subject=subject,
                created_by=user.username,
                context_s=console.settings.evidence_context_s,
                clip_padding_s=console.settings.clip_padding_s,
                language=request.cookies.get("cw_lang", "zh"),
                timezone=console.settings.timezone,
            )
        mcns = ",".join(sorted({str(c.violation["mcn_id"]) for c in cases}))
        digest = _sha256(Path(spool.name))
        record(console.store, user.username, "evidence.export", subject.describe(), mcns, sha256=digest)
    except BaseException:
        Path(spool.name).unlink(missing_ok=True)
        raise
    name = f"evidence-{violation_id or anchor_id}-{period or 'one'}.zip".replace("/", "_")
    return FileResponse(
        spool.name,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}"'},
        background=BackgroundTask(Path(spool.name).unlink, missing_ok=True),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)


@router.post("/evidence/verify", response_class=HTMLResponse)
async def verify(request: Request, user: CheckedUser, bundle: UploadFile) -> Response:
    """Verify an uploaded bundle against the keys this console trusts: 200 when verified, 400 with
    the reasons otherwise. The members of a bundle signed by another key are never read, and those
    of a trusted one are streamed (BodyLimit has already capped the upload itself)."""
    console = state(request)
    settings = console.settings
    load_or_create_key(key_path(settings))  # the console's own key is always a trusted one
    trusted = installation_keys(key_path(settings))
    if settings.evidence_trusted_keys_file:
        trusted = trusted.joined(TrustedKeys.read(settings.evidence_trusted_keys_file))
    result = await run_in_threadpool(
        verify_bundle,
        bundle.file,
        trusted,
        read_untrusted=False,
        max_unpacked_bytes=UNPACKED_PER_UPLOADED * settings.console_max_upload_bytes,
    )
    return page(
        request,
        "evidence.html",
        user,
        200 if result.ok else 400,
        anchors=[],
        period=None,
        result=result,
        name=bundle.filename,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, user: CurrentUser) -> Response:
    entries = recent(state(request).store, user.scope, action=request.query_params.get("action", "")[:64])
    return page(request, "audit.html", user, entries=entries)
