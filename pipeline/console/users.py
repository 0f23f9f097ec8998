"""Console accounts: roles, argon2id password hashes, and the scope each role may see.

Roles: ``certifier`` (every MCN; reviews violations), ``mcn_officer`` (their own MCN only) and
``auditor`` (every MCN, read-only, exports evidence). Accounts live in the warehouse table
``users``; a change writes a newer row (``updated_at`` always moves forward), nothing is deleted.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.errors import ClaimWatchError
from pipeline.reporting.scope import Scope
from pipeline.warehouse import Store

Role = Literal["certifier", "mcn_officer", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("claimwatch-timing-equaliser")


class UserError(ClaimWatchError):
    """An account cannot be created or changed as asked."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    mcn_id: str = ""
    display_name: str = ""
    disabled: bool = False

    @property
    def scope(self) -> Scope:
        """The MCNs this user may see: their own for an officer, all for the others."""
        return Scope.only(self.mcn_id) if self.role == "mcn_officer" else Scope.everything()

    @property
    def can_review(self) -> bool:
        return self.role == "certifier"

    @property
    def can_export(self) -> bool:
        return True  # every role, within its scope


def add_user(
    store: Store, username: str, password: str, role: str, *, mcn_id: str = "", display_name: str = ""
) -> User:
    """Create an account (refused if the name is taken)."""
    _validate(username, password, role, mcn_id)
    if _row(store, username) is not None:
        raise UserError(f"user {username!r} exists already")
    now = datetime.now(UTC)
    user = User(username, role, mcn_id if role == "mcn_officer" else "", display_name or username)  # type: ignore[arg-type]
    _write(store, user, _HASHER.hash(password), created_at=now, updated_at=now)
    return user


def _validate(username: str, password: str, role: str, mcn_id: str) -> None:
    if not _USERNAME.match(username):
        raise UserError("user names are 2-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role == "mcn_officer" and not mcn_id:
        raise UserError("an mcn_officer needs --mcn")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")


def set_disabled(store: Store, username: str, disabled: bool = True) -> User:
    """Disable (or enable again) an account; its sessions stop working at once."""
    row = _row(store, username)
    if row is None:
        raise UserError(f"no user {username!r}")
    user = _user(row)
    changed = User(user.username, user.role, user.mcn_id, user.display_name, disabled)
    _write(store, changed, row["password_hash"], created_at=row["created_at"], updated_at=_after(row))
    return changed


def list_users(store: Store) -> list[User]:
    rows = store.query(f"SELECT {_COLUMNS} FROM users FINAL ORDER BY username")
    return [_user(r) for r in rows]


def get_user(store: Store, username: str) -> User | None:
    row = _row(store, username)
    return None if row is None else _user(row)


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The enabled user with this password, else None (same work whether or not the name exists)."""
    row = _row(store, username) if _USERNAME.match(username) else None
    try:
        _HASHER.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    return _user(row)


def generate_password() -> str:
    """A random password for a generated login (demo, first certifier)."""
    return secrets.token_urlsafe(12)


def ensure_demo_login(store: Store, username: str = "demo") -> tuple[str, str]:
    """Create (or reset) a certifier login for `claimwatch demo`; returns (user name, password)."""
    password = generate_password()
    row = _row(store, username)
    now = datetime.now(UTC)
    user = User(username, "certifier", "", "Demo certifier")
    created = row["created_at"] if row else now
    _write(store, user, _HASHER.hash(password), created_at=created, updated_at=_after(row) if row else now)
    return username, password


_COLUMNS = "username, display_name, role, mcn_id, password_hash, disabled, created_at, updated_at"


def _row(store: Store, username: str) -> dict[str, Any] | None:
    rows = store.query(f"SELECT {_COLUMNS} FROM users FINAL WHERE username = %(u)s", {"u": username})
    return rows[0] if rows else None


def _user(row: dict[str, Any]) -> User:
    return User(row["username"], row["role"], row["mcn_id"], row["display_name"], bool(row["disabled"]))


def _after(row: dict[str, Any]) -> datetime:
    """A version time later than the row's, so the new row wins even within the same second."""
    now = datetime.now(UTC).replace(microsecond=0)
    previous: datetime = row["updated_at"]
    return max(now, previous + timedelta(seconds=1))


def _write(
    store: Store, user: User, password_hash: str, *, created_at: datetime, updated_at: datetime
) -> None:
    store.insert(
        "users",
        [
            {
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "mcn_id": user.mcn_id,
                "password_hash": password_hash,
                "disabled": int(user.disabled),
                "created_at": created_at,
                "updated_at": updated_at,
            }
        ],
    )
