"""The console's password policy: what a password must not be.

Following NIST SP 800-63B (section 3.1.1.2, memorised secrets) and OWASP ASVS 4 (V2.1): a length
floor (``console_password_min_length``, 12 characters by default; Chinese characters count one
each), no composition rules (any character may be used, spaces too), and a password refused when
it is
- only whitespace, or longer than ``MAX_LENGTH``;
- on a list of common passwords from breaches (``data/common-passwords.txt.gz``; its source and
  licence are in ``data/README.md``), also with digits, punctuation or spaces around or inside
  it (``password2024!``, ``iloveyou1314``, ``pass word``);
- one piece repeated (``weak4weak4weak4``, ``pppppppppppp``) or a run of consecutive characters
  (``abcdefghijklm``, ``1234567890``, ``987654321098``);
- the user's name with something added (``li.officer-2026``).
"""

from __future__ import annotations

import gzip
import itertools
import string
import unicodedata
from functools import cache
from pathlib import Path

COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
MAX_LENGTH = 256
_AROUND = string.digits + string.punctuation + string.whitespace


def weakness(password: str, username: str, min_length: int) -> str | None:
    """Why ``password`` is refused for ``username``, or None when it is acceptable."""
    text = unicodedata.normalize("NFC", password)
    lowered = text.casefold()
    checks = (
        (not text.strip(), "a password cannot be only spaces"),
        (len(text) < min_length, f"passwords need at least {min_length} characters"),
        (len(text) > MAX_LENGTH, f"passwords have at most {MAX_LENGTH} characters"),
        (len(username) >= 3 and username.casefold() in lowered, "a password cannot contain the user name"),
        (
            _repeated(lowered) or _run(lowered),
            "a password cannot be one piece repeated or a run of characters (abcd..., 1234...)",
        ),
        (_common(lowered), "this password is on a list of common or breached passwords"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _common(lowered: str) -> bool:
    core = lowered.strip(_AROUND)
    compact = "".join(c for c in core if c.isalnum())
    common = common_passwords()
    return any(form in common for form in {lowered, core, compact} if form)


def _repeated(text: str) -> bool:
    """Some piece of at most half the length, repeated to make all of it."""
    return any(
        len(text) % size == 0 and text[:size] * (len(text) // size) == text
        for size in range(1, len(text) // 2 + 1)
    )


def _run(text: str) -> bool:
    """Every character one after (or before) the one before it (``90`` continues ``1..9``)."""
    steps = {_step(a, b) for a, b in itertools.pairwise(text)}
    return steps in ({1}, {-1})


def _step(a: str, b: str) -> int:
    if a.isdigit() and b.isdigit():
        return (int(b) - int(a) + 5) % 10 - 5  # 9 -> 0 is one step on
    return ord(b) - ord(a)


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().casefold() for line in lines if line.strip())
