"""Signed evidence bundles: `claimwatch evidence export` and `claimwatch evidence verify`.

A bundle is a zip holding, per violation, its record with the review history, the transcript
excerpt around it, the audio clip cut from the stream's archived audio (or a note saying why
there is none), the listing card and the ledger row as they stood at the violation's time; an HTML
report an auditor can read in any browser; the public key; ``manifest.json`` listing every file
with its SHA-256; and ``manifest.sig``, the raw Ed25519 signature of ``manifest.json``.

Verification checks the signature, every file's hash and size, and that the zip holds exactly the
files the manifest lists: any changed, added or removed byte fails it. It also says whether the
signing key is this installation's (or a trusted key given), since anyone can sign with a key of
their own.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import AudioError, ClaimWatchError
from pipeline.reporting.casefile import Case, find_violations, load_case
from pipeline.reporting.evidence_report import render_report
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.signing import (
    SigningError,
    fingerprint,
    load_public,
    public_pem,
    signature_valid,
)
from pipeline.speech.clips import cut_clip
from pipeline.warehouse import Store

FORMAT = "claimwatch-evidence/1"
MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "public_key.pem"
MAX_VIOLATIONS = 500


class EvidenceError(ClaimWatchError):
    """Evidence cannot be exported as asked."""


@dataclass(frozen=True, slots=True)
class Subject:
    """What a bundle is about: one violation, or an anchor's violations in a period."""

    violation_id: str | None = None
    anchor_id: str | None = None
    period: Period | None = None

    def describe(self) -> str:
        if self.violation_id:
            return f"violation {self.violation_id}"
        return f"anchor {self.anchor_id} in {self.period.label if self.period else '?'}"


def collect_cases(store: Store, scope: Scope, subject: Subject, *, context_s: float) -> list[Case]:
    """The cases a bundle holds; an id outside the scope is reported exactly like a missing one."""
    if subject.violation_id:
        case = load_case(store, scope, subject.violation_id, context_s=context_s)
        if case is None:
            raise EvidenceError(f"no violation {subject.violation_id} that you may see")
        return [case]
    if not subject.anchor_id or subject.period is None:
        raise EvidenceError("name a violation, or an anchor and a period")
    rows = find_violations(
        store, scope, period=subject.period, anchor_id=subject.anchor_id, limit=MAX_VIOLATIONS
    )
    cases = [load_case(store, scope, r["event_id"], context_s=context_s) for r in reversed(rows)]
    found = [c for c in cases if c is not None]
    if not found:
        raise EvidenceError(f"no violations of {subject.describe()} that you may see")
    return found


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=_default).encode()


def _default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def case_files(case: Case, context_s: float, clip_padding_s: float = 2.0) -> dict[str, bytes]:
    """The files of one violation, by path inside the bundle."""
    vid = case.event_id
    record = {"violation": case.violation, "reviews": case.reviews, "decision": case.decision}
    files = {
        f"violations/{vid}.json": _json(record),
        f"transcripts/{vid}.json": _json({"context_s": context_s, "segments": case.transcript}),
        f"listings/{vid}.json": _json(
            case.listing or {"note": "no listing card is linked to this violation"}
        ),
        f"ledger/{vid}.json": _json(
            case.ledger or {"note": "no ledger row of this product stood at the violation's time"}
        ),
    }
    files.update(_audio(case, clip_padding_s))
    return files


def _audio(case: Case, padding_s: float) -> dict[str, bytes]:
    vid = case.event_id
    if not case.audio_path:
        why = f"stream {case.violation['stream_id']} has no archived audio; no clip could be cut.\n"
        return {f"audio/{vid}.missing.txt": why.encode()}
    start, end = case.clip_bounds(padding_s)
    try:
        return {f"audio/{vid}.wav": cut_clip(case.audio_path, start, end)}
    except AudioError as exc:
        return {f"audio/{vid}.missing.txt": f"no clip: {exc}\n".encode()}


@dataclass(frozen=True, slots=True)
class Bundle:
    data: bytes
    manifest: dict[str, Any]
    violations: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build_bundle(
    cases: Sequence[Case],
    key: Any,
    *,
    subject: Subject,
    created_by: str,
    context_s: float,
    clip_padding_s: float = 2.0,
    language: str = "zh",
) -> Bundle:
    """The signed zip of these cases (``key``: an Ed25519 private key)."""
    files: dict[str, bytes] = {}
    for case in cases:
        files.update(case_files(case, context_s, clip_padding_s))
    files[PUBLIC_KEY] = public_pem(key)
    meta = {
        "format": FORMAT,
        "claimwatch_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "created_by": created_by,
        "subject": subject.describe(),
        "signing_key_fingerprint": fingerprint(key),
    }
    files["report.html"] = render_report(cases, files, meta, language=language)
    manifest = {**meta, "files": [_entry(p, files[p]) for p in sorted(files)]}
    manifest_bytes = _json(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(SIGNATURE, key.sign(manifest_bytes))
        for path in sorted(files):
            zf.writestr(path, files[path])
    return Bundle(out.getvalue(), manifest, len(cases))


def _entry(path: str, data: bytes) -> dict[str, Any]:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True, slots=True)
class Verification:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    fingerprint: str = ""
    trusted: bool | None = None  # None: no trusted key to compare with
    subject: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(source: Path | bytes, trusted_key: Any = None) -> Verification:
    """Check a bundle's signature and every byte of its files (``trusted_key``: a public key).

    Never raises on what the bundle holds: a malformed zip, manifest, key or member is a problem
    in the result, with its reason.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            return _verify(zf, trusted_key)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError, NotImplementedError) as exc:
        return Verification([f"not a readable bundle: {exc}"])
    except _Malformed as exc:
        return Verification([str(exc)])


class _Malformed(Exception):
    """A bundle whose manifest or key cannot be read: the reason is the message."""


def _verify(zf: zipfile.ZipFile, trusted_key: Any) -> Verification:
    names = [i.filename for i in zf.infolist()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return Verification([f"the zip holds several files named {', '.join(duplicates)}"])
    for needed in (MANIFEST, SIGNATURE, PUBLIC_KEY):
        if needed not in names:
            return Verification([f"{needed} is missing"])
    manifest_bytes = zf.read(MANIFEST)
    try:
        public = load_public(zf.read(PUBLIC_KEY))
    except SigningError as exc:
        raise _Malformed(f"{PUBLIC_KEY}: {exc}") from None
    problems = [] if signature_valid(public, zf.read(SIGNATURE), manifest_bytes) else ["bad signature"]
    manifest = _manifest(manifest_bytes)
    listed = _listed_files(manifest)
    problems += _check_files(zf, listed, set(names) - {MANIFEST, SIGNATURE})
    if manifest.get("signing_key_fingerprint") != fingerprint(public):
        problems.append("the manifest names another signing key than the bundle's")
    trusted = None if trusted_key is None else fingerprint(trusted_key) == fingerprint(public)
    return Verification(problems, len(listed), fingerprint(public), trusted, str(manifest.get("subject", "")))


def _manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _Malformed(f"{MANIFEST}: not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(manifest, dict):
        raise _Malformed(f"{MANIFEST}: not a JSON object")
    return manifest


def _listed_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's files by path, each entry checked for its shape."""
    files = manifest.get("files")
    if not isinstance(files, list):
        raise _Malformed(f"{MANIFEST}: 'files' is not a list")
    listed: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(files):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("sha256"), str)
            and type(entry.get("bytes")) is int
        ):
            raise _Malformed(f"{MANIFEST}: files[{index}] is not {{path, sha256, bytes}}")
        if entry["path"] in listed:
            raise _Malformed(f"{MANIFEST}: {entry['path']} is listed twice")
        listed[entry["path"]] = entry
    return listed


def _check_files(zf: zipfile.ZipFile, listed: dict[str, dict[str, Any]], present: set[str]) -> list[str]:
    problems = []
    for path, entry in sorted(listed.items()):
        if path not in present:
            problems.append(f"{path}: listed but missing")
            continue
        data = zf.read(path)
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"{path}: changed (SHA-256 differs from the manifest)")
    problems += [f"{path}: not in the manifest" for path in sorted(present - set(listed))]
    return problems
