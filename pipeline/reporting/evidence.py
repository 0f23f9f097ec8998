"""Signed evidence bundles: `claimwatch evidence export` and `claimwatch evidence verify`.

A bundle is a zip holding, per violation, its record with the review history, the transcript
excerpt around it, the audio clip cut from the stream's archived audio (or a note saying why
there is none), the listing card and the ledger row as they stood at the violation's time; an HTML
report an auditor can read in any browser; the public key; ``manifest.json`` listing every file
with its SHA-256; and ``manifest.sig``, the raw Ed25519 signature of ``manifest.json``.

Verification checks the signature, every file's hash and size, and that the zip holds exactly the
files the manifest lists: any changed, added or removed byte fails it. That alone proves nothing
about who made the bundle (anyone can sign with a key of their own and ship it), so a bundle is
*verified* only when its key is a trusted one (``signing.TrustedKeys``: this installation's keys,
or the key ids an auditor pinned); without a trusted key the result says what was and was not
checked, and is never ``ok``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pipeline import __version__
from pipeline.errors import AudioError, ClaimWatchError
from pipeline.reporting.casefile import Case, find_violations, load_case, load_cases
from pipeline.reporting.evidence_report import render_report
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.signing import (
    SigningError,
    TrustedKeys,
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
    ids = [r["event_id"] for r in reversed(rows)]
    loaded = load_cases(store, scope, ids, context_s=context_s)  # six queries, not six a violation
    found = [loaded[i] for i in ids if i in loaded]
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
    record = {
        "violation": case.violation,
        "reviews": case.reviews,
        "decision": case.decision,
        "state": case.state,
    }
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
class Written:
    """What :func:`write_bundle` wrote: the signed manifest and how many violations it holds."""

    manifest: dict[str, Any]
    violations: int


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
    timezone: str,
) -> Bundle:
    """The signed zip of these cases in memory (see :func:`write_bundle`, which streams it)."""
    out = io.BytesIO()
    written = write_bundle(
        cases, key, out, subject=subject, created_by=created_by, context_s=context_s,
        clip_padding_s=clip_padding_s, language=language, timezone=timezone,
    )  # fmt: skip
    return Bundle(out.getvalue(), written.manifest, written.violations)


def write_bundle(
    cases: Sequence[Case],
    key: Any,
    out: IO[bytes],
    *,
    subject: Subject,
    created_by: str,
    context_s: float,
    clip_padding_s: float = 2.0,
    language: str = "zh",
    timezone: str,
) -> Written:
    """Write the signed zip of these cases to ``out`` (``key``: an Ed25519 private key;
    ``timezone``: the one the report shows times in, the console's).

    Each violation's files go into the zip as they are made, so memory holds one violation's
    clip at a time, not the bundle: only the paths, hashes and sizes are kept, and the manifest
    and its signature, which need them all, are written last (a zip is read by name)."""
    entries: list[dict[str, Any]] = []
    notes: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:

        def put(path: str, data: bytes) -> None:
            zf.writestr(path, data)
            entries.append(_entry(path, data))

        for case in cases:
            for path, data in case_files(case, context_s, clip_padding_s).items():
                put(path, data)
                if path == f"audio/{case.event_id}.missing.txt":
                    notes[case.event_id] = data.decode("utf-8", "replace")
            notes.setdefault(case.event_id, "")
        put(PUBLIC_KEY, public_pem(key))
        meta: dict[str, Any] = {
            "format": FORMAT,
            "claimwatch_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "created_by": created_by,
            "subject": subject.describe(),
            "key_id": fingerprint(key),
            "signing_key_fingerprint": fingerprint(key),  # the key id under its first name
            "timezone": timezone,
        }
        put("report.html", render_report(cases, entries, notes, meta, language=language, timezone=timezone))
        manifest: dict[str, Any] = {**meta, "files": sorted(entries, key=lambda e: str(e["path"]))}
        manifest_bytes = _json(manifest)
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(SIGNATURE, key.sign(manifest_bytes))
    return Written(manifest, len(cases))


def _entry(path: str, data: bytes) -> dict[str, Any]:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


# ---------------------------------------------------------------------------------------------
# Verification
#
# Read in the order that keeps a hostile zip cheap: the zip's directory (bounded entries), then the
# three small members (each capped), then the signature; only a manifest whose signature holds is
# parsed, and only then are the members read, streamed in chunks, each capped at the size the
# signed manifest gives it, all together at ``max_unpacked_bytes``. Memory stays at a chunk, and a
# bomb behind a bad (or, with ``read_untrusted=False``, an untrusted) signature is never inflated.

MAX_MEMBERS = 10_000  # a bundle of MAX_VIOLATIONS holds about 5 per violation
MAX_MANIFEST_BYTES = 8 << 20
MAX_SMALL_BYTES = 16 << 10  # the signature (64 bytes) and the public key (113 bytes)
MAX_UNPACKED_BYTES = 4 << 30
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Verification:
    """What verification found. ``ok`` only for a bundle whose every byte checks *and* whose
    signing key is a trusted one; ``consistent`` says the bundle agrees with itself."""

    problems: list[str] = field(default_factory=list)
    files: int = 0
    fingerprint: str = ""
    trusted: bool | None = None  # None: no trusted key to compare with
    subject: str = ""
    trusted_as: str = ""  # the trusted key's label
    files_checked: bool = False  # every listed file read and hashed

    @property
    def consistent(self) -> bool:
        return not self.problems

    @property
    def ok(self) -> bool:
        return self.consistent and self.trusted is True and self.files_checked

    def checked(self) -> list[str]:
        """What was checked, for a reader (whatever the outcome)."""
        done = []
        if self.fingerprint:
            done.append(f"manifest.json is signed by the key in the bundle, id {self.fingerprint}")
        if self.files_checked:
            done.append(f"all {self.files} files match the manifest's SHA-256 and size, and no file is added")
        if self.trusted:
            done.append(f"that key is a trusted one ({self.trusted_as})")
        return done

    def not_checked(self) -> list[str]:
        """What could not be checked, and why."""
        missing = []
        if self.trusted is None and self.fingerprint:
            missing.append(
                "who signed: no trusted key to compare with, and anyone can sign with a key of "
                "their own; pin the certification body's key id (--trust ID, --public-key PEM or "
                "CLAIMWATCH_EVIDENCE_TRUSTED_KEYS_FILE)"
            )
        if self.trusted is False:
            missing.append(f"who signed: key {self.fingerprint} is NOT a trusted key")
        if self.fingerprint and not self.files_checked and not self.problems:
            missing.append("the files: not read, as the signing key is not trusted")
        return missing


Source = Path | bytes | BinaryIO


def verify_bundle(
    source: Source,
    trusted: TrustedKeys | Ed25519PublicKey | None = None,
    *,
    read_untrusted: bool = True,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
) -> Verification:
    """Check a bundle's signature, who signed it and every byte of its files.

    ``trusted``: the keys to trust (a public key, or :class:`TrustedKeys`; none: who signed is
    left unchecked and the result is never ``ok``). ``read_untrusted=False`` leaves the members of
    a bundle signed by an untrusted key unread. Never raises on what the bundle holds: a malformed
    zip, manifest, key or member is a problem in the result, with its reason.
    """
    if isinstance(trusted, Ed25519PublicKey):
        trusted = TrustedKeys.of([trusted], "the trusted key")
    limits = _Limits(read_untrusted, max_unpacked_bytes)
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            return _verify(zf, trusted or TrustedKeys(), limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, ValueError, EOFError,
            NotImplementedError, RuntimeError, zlib.error) as exc:  # fmt: skip
        return Verification([f"not a readable bundle: {str(exc)[:200]}"])
    except _Malformed as exc:
        return Verification([str(exc)])


@dataclass(frozen=True, slots=True)
class _Limits:
    read_untrusted: bool
    max_unpacked_bytes: int


class _Malformed(Exception):
    """A bundle whose manifest or key cannot be read: the reason is the message."""


def _verify(zf: zipfile.ZipFile, trust: TrustedKeys, limits: _Limits) -> Verification:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        return Verification([f"the zip holds {len(infos)} files, more than a bundle can ({MAX_MEMBERS})"])
    counts = Counter(i.filename for i in infos)
    duplicates = sorted(n for n, c in counts.items() if c > 1)
    if duplicates:
        return Verification([f"the zip holds several files named {', '.join(duplicates[:10])}"])
    for needed in (MANIFEST, SIGNATURE, PUBLIC_KEY):
        if needed not in counts:
            return Verification([f"{needed} is missing"])
    manifest_bytes = _small(zf, MANIFEST, MAX_MANIFEST_BYTES)
    try:
        public = load_public(_small(zf, PUBLIC_KEY, MAX_SMALL_BYTES))
    except SigningError as exc:
        raise _Malformed(f"{PUBLIC_KEY}: {exc}") from None
    key_id = fingerprint(public)
    if not signature_valid(public, _small(zf, SIGNATURE, MAX_SMALL_BYTES), manifest_bytes):
        why = f"bad signature: {SIGNATURE} is not {PUBLIC_KEY}'s signature of {MANIFEST}; no file was read"
        return Verification([why], fingerprint=key_id)
    label = trust.label_of(key_id)
    trusted = None if not trust else label is not None
    manifest = _manifest(manifest_bytes)
    listed = _listed_files(manifest)
    subject = str(manifest.get("subject", ""))[:500]
    problems = _key_problems(manifest, key_id)
    result = Verification(problems, len(listed), key_id, trusted, subject, label or "")
    if trusted is False and not limits.read_untrusted:
        return result
    problems += _check_files(zf, listed, set(counts) - {MANIFEST, SIGNATURE}, limits.max_unpacked_bytes)
    return Verification(problems, len(listed), key_id, trusted, subject, label or "", files_checked=True)


def _small(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member that must be small, read no further than ``limit`` bytes."""
    if zf.getinfo(name).file_size > limit:
        raise _Malformed(f"{name}: larger than {limit} bytes")
    with zf.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise _Malformed(f"{name}: larger than {limit} bytes")
    return data


def _key_problems(manifest: dict[str, Any], key_id: str) -> list[str]:
    named = {manifest.get("key_id", key_id), manifest.get("signing_key_fingerprint", key_id)}
    return [] if named == {key_id} else ["the manifest names another signing key than the bundle's"]


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
            and entry["bytes"] >= 0
        ):
            raise _Malformed(f"{MANIFEST}: files[{index}] is not {{path, sha256, bytes}}")
        if entry["path"] in listed:
            raise _Malformed(f"{MANIFEST}: {entry['path'][:200]} is listed twice")
        listed[entry["path"]] = entry
    return listed


def _check_files(
    zf: zipfile.ZipFile, listed: dict[str, dict[str, Any]], present: set[str], max_unpacked_bytes: int
) -> list[str]:
    total = sum(entry["bytes"] for entry in listed.values())
    if total > max_unpacked_bytes:
        return [f"the files add up to {total} bytes, more than the {max_unpacked_bytes} this verifier reads"]
    problems = []
    for path, entry in sorted(listed.items()):
        if path not in present:
            problems.append(f"{path}: listed but missing")
        elif not _matches(zf, path, entry):
            problems.append(f"{path}: changed (SHA-256 differs from the manifest)")
    problems += [f"{path}: not in the manifest" for path in sorted(present - set(listed))]
    return problems


def _matches(zf: zipfile.ZipFile, path: str, entry: dict[str, Any]) -> bool:
    """Whether the member has the manifest's size and SHA-256, read a chunk at a time and never
    past the size the manifest gives it."""
    size: int = entry["bytes"]
    if zf.getinfo(path).file_size != size:
        return False
    digest, seen = hashlib.sha256(), 0
    with zf.open(path) as member:
        while chunk := member.read(min(_CHUNK, size + 1 - seen)):
            seen += len(chunk)
            if seen > size:
                return False
            digest.update(chunk)
    return seen == size and digest.hexdigest() == entry["sha256"]
