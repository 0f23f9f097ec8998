"""Attachments of appeals and rectifications: checked, stored and read back by their SHA-256.

An upload is accepted when its first bytes are those of a PDF, PNG or JPEG file *and* its name
ends as that type does (a renamed file of another type is refused either way), and it is at most
``console_max_attachment_bytes``. It is stored as ``data_dir/attachments/<aa>/<sha256>`` (the
hash's first two hex digits, then the hash): no part of the path comes from the uploader, and the
same file uploaded twice is stored once. The uploader's file name is kept in the review row for
display only (cleaned of paths and control characters). Who may fetch one is decided by the
route: a reader who may see the violation whose review lists it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ClaimWatchError
from pipeline.reporting.reviews import Attached

DIRECTORY = "attachments"
MAX_NAME = 120
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/<>]")


@dataclass(frozen=True, slots=True)
class Kind:
    """An allowed attachment type: its media type, magic bytes and the name endings it may have."""

    media_type: str
    magic: bytes
    suffixes: tuple[str, ...]


KINDS: tuple[Kind, ...] = (
    Kind("application/pdf", b"%PDF-", (".pdf",)),
    Kind("image/png", b"\x89PNG\r\n\x1a\n", (".png",)),
    Kind("image/jpeg", b"\xff\xd8\xff", (".jpg", ".jpeg")),
)
ALLOWED = ", ".join(s.lstrip(".").upper() for k in KINDS for s in k.suffixes[:1])


class AttachmentError(ClaimWatchError):
    """An attachment refused: of a type not allowed, too large, or empty."""


def clean_name(name: str) -> str:
    """The uploader's file name, for display: its last path part, without control characters,
    quotes or slashes, at most :data:`MAX_NAME` characters."""
    last = re.split(r"[\\/]", name)[-1]
    return _UNSAFE.sub("", last).strip()[:MAX_NAME] or "attachment"


def sniff(data: bytes, name: str) -> Kind:
    """The attachment's kind, told by its magic bytes and agreeing with its name; refused otherwise."""
    kind = next((k for k in KINDS if data.startswith(k.magic)), None)
    if kind is None:
        raise AttachmentError(f"attachments must be {ALLOWED} files (this one's content is not)")
    if not name.lower().endswith(kind.suffixes):
        raise AttachmentError(f"the file's name does not end as a {kind.media_type} file's does")
    return kind


def check(data: bytes, name: str, max_bytes: int) -> Kind:
    """Refuses an empty, oversize or wrongly typed attachment; its kind otherwise."""
    if not data:
        raise AttachmentError("the attachment is empty")
    if len(data) > max_bytes:
        raise AttachmentError(f"attachments are at most {max_bytes} bytes (console_max_attachment_bytes)")
    return sniff(data, name)


def path_of(data_dir: Path, sha256: str) -> Path:
    """Where an attachment of this hash is stored; refused for anything but 64 lowercase hex digits."""
    if not _SHA256.match(sha256):
        raise AttachmentError("not an attachment id")
    return data_dir / DIRECTORY / sha256[:2] / sha256


def prepare(data: bytes, name: str, max_bytes: int) -> Attached:
    """Check an upload (:func:`check`): what its review row will record, nothing written yet."""
    kind = check(data, name, max_bytes)
    return Attached(hashlib.sha256(data).hexdigest(), clean_name(name), kind.media_type, len(data))


def save(data_dir: Path, attached: Attached, data: bytes) -> Path:
    """Store a prepared attachment (written whole, then renamed into place; kept if present)."""
    if hashlib.sha256(data).hexdigest() != attached.sha256:
        raise AttachmentError("the attachment's bytes are not the ones checked")
    target = path_of(data_dir, attached.sha256)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o600)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def read(data_dir: Path, sha256: str) -> bytes | None:
    """The stored attachment's bytes, None when it is not there."""
    path = path_of(data_dir, sha256)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def suffix_of(media_type: str) -> str:
    """The file name ending an attachment of this media type is served with."""
    return next((k.suffixes[0] for k in KINDS if k.media_type == media_type), ".bin")
