"""The Ed25519 key that signs evidence bundles, and the keys a verifier trusts.

The private key is a PEM file readable by its owner only, generated on first use. A bundle carries
its public key, but anyone can sign with a key of their own: a bundle is *verified* only when the
key that signed it is one the verifier trusts, named out of band. The trust model:

- A key's id is its fingerprint (:func:`fingerprint`): SHA-256 of the raw 32-byte public key, the
  first 16 bytes in hex. Bundles name it in the manifest (``key_id``) and the report.
- The certification body publishes its keys' ids (``claimwatch evidence key`` prints them as a
  trust file; ``--pem`` the public key itself) on a channel an auditor already trusts.
- An auditor pins them: a trust file (``CLAIMWATCH_EVIDENCE_TRUSTED_KEYS_FILE``, one id per line
  with a label), ``evidence verify --trust ID`` or ``--public-key PEM``. Pinning an id is as good
  as pinning the key: a second key with the same 128-bit truncated SHA-256 cannot be found.
- Rotation (``evidence key --rotate``) retires the current key: its public half stays in
  ``retired/`` beside the key file, so the installation still verifies what it signed, and the
  private half is deleted. The new key's id is published and pinned beside the old one. Dropping
  an id from a trust file (or a retired key from ``retired/``) revokes it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.config import Settings
from pipeline.errors import ClaimWatchError


class SigningError(ClaimWatchError):
    """The signing key cannot be read or created."""


def key_path(settings: Settings) -> Path:
    return settings.evidence_key_file or settings.data_dir / "keys" / "evidence-ed25519.pem"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path``, generated (mode 0600) the first time."""
    if path.is_file():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise SigningError(f"{path}: not an unencrypted PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningError(f"{path}: not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError("not an Ed25519 public key")
    return key


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, first 16 bytes in hex (for people to compare)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def signature_valid(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The keys a verifier trusts

_KEY_ID = re.compile(r"[0-9a-f]{32}")
RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """Key ids a verifier trusts, each with a label saying where the trust comes from."""

    labels: dict[str, str] = field(default_factory=dict)

    def label_of(self, key_id: str) -> str | None:
        return self.labels.get(key_id)

    def __bool__(self) -> bool:
        return bool(self.labels)

    def describe(self) -> str:
        return ", ".join(f"{k} ({v})" for k, v in sorted(self.labels.items())) or "none"

    def joined(self, *others: TrustedKeys) -> TrustedKeys:
        labels = dict(self.labels)
        for other in others:
            for key_id, text in other.labels.items():
                labels.setdefault(key_id, text)
        return TrustedKeys(labels)

    @classmethod
    def of(cls, keys: Iterable[Ed25519PublicKey], label: str) -> TrustedKeys:
        return cls({fingerprint(k): label for k in keys})

    @classmethod
    def ids(cls, key_ids: Iterable[str], label: str) -> TrustedKeys:
        """Key ids given by hand (``--trust``), checked for their form."""
        found = {}
        for key_id in key_ids:
            if not _KEY_ID.fullmatch(key_id.strip().lower()):
                raise SigningError(f"{key_id!r} is not a key id (32 hex digits, as `evidence key` prints)")
            found[key_id.strip().lower()] = label
        return cls(found)

    @classmethod
    def read(cls, path: Path) -> TrustedKeys:
        """A trust file: one key id per line, then an optional label; ``#`` starts a comment."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningError(f"{path}: cannot read the trusted keys ({exc})") from None
        found = {}
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split(None, 1)
            if not words:
                continue
            if not _KEY_ID.fullmatch(words[0].lower()):
                raise SigningError(f"{path}:{number}: {words[0]!r} is not a key id (32 hex digits)")
            found[words[0].lower()] = words[1].strip() if len(words) > 1 else path.name
        return cls(found)


def installation_keys(path: Path) -> TrustedKeys:
    """This installation's signing key (when it exists) and the keys it retired."""
    found = {}
    if path.is_file():
        found[fingerprint(load_or_create_key(path))] = "this installation's key"
    for retired in sorted(retired_dir(path).glob("*.pem")):
        try:
            found.setdefault(
                fingerprint(load_public(retired.read_bytes())), "this installation's retired key"
            )
        except (OSError, SigningError) as exc:
            raise SigningError(f"{retired}: {exc}") from None
    return TrustedKeys(found)


def retired_dir(path: Path) -> Path:
    return path.parent / RETIRED


def rotate_key(path: Path) -> tuple[str, str]:
    """Retire the key at ``path`` (its public half kept, its private half deleted) and create a new
    one; (old id, new id)."""
    old = load_or_create_key(path)
    old_id = fingerprint(old)
    folder = retired_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (folder / f"{stamp}-{old_id}.pem").write_bytes(public_pem(old))
    path.unlink()
    return old_id, fingerprint(load_or_create_key(path))


def published_keys(path: Path) -> str:
    """The trust file of this installation's keys, as the certification body publishes it."""
    current = load_or_create_key(path)
    lines = [
        "# ClaimWatch evidence signing keys: key id, then what it is. Pin these lines in the file",
        "# CLAIMWATCH_EVIDENCE_TRUSTED_KEYS_FILE names (or pass --trust ID to `evidence verify`).",
        f"{fingerprint(current)} current signing key",
    ]
    for retired in sorted(retired_dir(path).glob("*.pem"), reverse=True):
        stamp = retired.stem.split("-", 1)[0]
        lines.append(f"{fingerprint(load_public(retired.read_bytes()))} retired {stamp}")
    return "\n".join(lines) + "\n"
