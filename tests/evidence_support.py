"""Evidence bundles as a forger, a careless tool or an attacker makes them (for the evidence tests
of the library, the command line and the console)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipeline.reporting.evidence import MANIFEST
from pipeline.reporting.signing import fingerprint, public_pem


def rewrite(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The zip with some members replaced (None: removed) or added."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in change:
                if change[name] is not None:
                    dst.writestr(name, change[name])  # type: ignore[arg-type]
            else:
                dst.writestr(name, src.read(name))
        for name, content in change.items():
            if name not in src.namelist() and content is not None:
                dst.writestr(name, content)
    return out.getvalue()


def forge(data: bytes, change: dict[str, bytes], forger: Ed25519PrivateKey) -> bytes:
    """What a forger does: edit files, recompute the manifest's hashes, re-sign it with a key of
    their own and ship that key in the bundle."""
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {n: src.read(n) for n in src.namelist() if n not in (MANIFEST, "manifest.sig")}
    files.update(change)
    files["public_key.pem"] = public_pem(forger)
    manifest = json.loads(src.read(MANIFEST))
    manifest["signing_key_fingerprint"] = manifest["key_id"] = fingerprint(forger)
    manifest["files"] = [
        {"path": p, "sha256": hashlib.sha256(files[p]).hexdigest(), "bytes": len(files[p])}
        for p in sorted(files)
    ]
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr("manifest.sig", forger.sign(manifest_bytes))
        for path, content in sorted(files.items()):
            zf.writestr(path, content)
    return out.getvalue()


MALFORMED_MANIFESTS = [
    b"[]",
    b"1e999999",
    b'{"files": [1]}',
    b'{"files": "abc"}',
    b'{"files": [{"path": ["a"], "sha256": "00", "bytes": 1}]}',
    b"[" * 100_000,
]


def signed_zip(key: Ed25519PrivateKey, manifest: bytes, members: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(MANIFEST, manifest)
        zf.writestr("manifest.sig", key.sign(manifest))
        zf.writestr("public_key.pem", public_pem(key))
        for name, content in (members or {}).items():
            zf.writestr(name, content)
    return out.getvalue()


def zip_bomb(key: Ed25519PrivateKey, size: int, *, sign_with: Ed25519PrivateKey | None = None) -> bytes:
    """A bundle whose one member unpacks to ``size`` zero bytes, listed truthfully in its manifest."""
    chunk = bytes(1 << 20)
    digest = hashlib.sha256()
    for _ in range(size // len(chunk)):
        digest.update(chunk)
    entry = {"path": "audio/bomb.wav", "sha256": digest.hexdigest(), "bytes": size}
    key_id = fingerprint(key)
    manifest = json.dumps(
        {"format": "claimwatch-evidence/1", "key_id": key_id, "signing_key_fingerprint": key_id,
         "subject": "bomb", "files": [{"path": "public_key.pem", **_entry_of(public_pem(key))}, entry]}
    ).encode()  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest)
        zf.writestr("manifest.sig", (sign_with or key).sign(manifest))
        zf.writestr("public_key.pem", public_pem(key))
        with zf.open("audio/bomb.wav", "w", force_zip64=True) as member:
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def _entry_of(data: bytes) -> dict[str, object]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
