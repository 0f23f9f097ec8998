"""Console accounts: roles, argon2id password hashes, and the scope each role may see.

Roles: ``certifier`` (every MCN; reviews violations, administers accounts), ``mcn_officer``
(their own MCN only, one that the warehouse knows from a ledger or a stream) and ``auditor`` (every
MCN, read-only, exports evidence). Accounts live in the warehouse table ``users``; a change writes a
newer row (``updated_at`` always moves forward), nothing is deleted. Passwords follow
:mod:`pipeline.console.passwords`; a new password (reset or change) and disabling end the
account's sessions (a role change takes effect on the next request anyway).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.console.passwords import weakness
from pipeline.console.sessions import end_sessions_of, note_change
from pipeline.errors import ClaimWatchError
from pipeline.reporting.scope import Scope
from pipeline.warehouse import Store

Role = Literal["certifier", "mcn_officer", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 12  # the default of console_password_min_length
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
    store: Store,
    username: str,
    password: str,
    role: str,
    *,
    mcn_id: str = "",
    display_name: str = "",
    min_length: int = MIN_PASSWORD_LENGTH,
) -> User:
    """Create an account (refused if the name is taken)."""
    if not _USERNAME.match(username):
        raise UserError("user names are 2-64 letters, digits or . _ @ -")
    _check_role(store, role, mcn_id)
    _check_password(password, username, min_length)
    if _row(store, username) is not None:
        raise UserError(f"user {username!r} exists already")
    now = datetime.now(UTC)
    user = User(username, role, mcn_id if role == "mcn_officer" else "", display_name or username)  # type: ignore[arg-type]
    _write(store, user, _HASHER.hash(password), created_at=now, updated_at=now)
    return user


def _check_role(store: Store, role: str, mcn_id: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role == "mcn_officer" and not mcn_id:
        raise UserError("an mcn_officer needs --mcn")
    if role == "mcn_officer" and mcn_id not in known_mcns(store):
        raise UserError(
            f"unknown MCN {mcn_id!r}: no ledger or stream names it (import the MCN's ledger first)"
        )


def _check_password(password: str, username: str, min_length: int) -> None:
    reason = weakness(password, username, min_length)
    if reason is not None:
        raise UserError(reason)


def known_mcns(store: Store) -> set[str]:
    """The MCNs the warehouse knows: those of the ledger and of the streams."""
    found: set[str] = set()
    for table in ("ledger", "streams"):
        found |= {r["mcn_id"] for r in store.query(f"SELECT DISTINCT mcn_id FROM {table}")}
    return found - {""}


def set_disabled(store: Store, username: str, disabled: bool = True) -> User:
    """Disable (or enable again) an account; its sessions stop working at once."""
    row = _existing(store, username)
    user = user_of(row)
    changed = User(user.username, user.role, user.mcn_id, user.display_name, disabled)
    _write(store, changed, row["password_hash"], created_at=row["created_at"], updated_at=_after(row))
    if disabled:
        end_sessions_of(store, username)
    return changed


def set_role(store: Store, username: str, role: str, *, mcn_id: str = "") -> User:
    """Give an account another role (an mcn_officer: of a known MCN)."""
    row = _existing(store, username)
    _check_role(store, role, mcn_id)
    user = user_of(row)
    officer_of = mcn_id if role == "mcn_officer" else ""
    changed = User(user.username, cast(Role, role), officer_of, user.display_name, user.disabled)
    _write(store, changed, row["password_hash"], created_at=row["created_at"], updated_at=_after(row))
    return changed


def reset_password(store: Store, username: str) -> str:
    """Give an account a new random password (returned, to hand over once) and end its sessions."""
    password = generate_password()
    _set_password(store, _existing(store, username), password)
    return password


def change_password(
    store: Store,
    username: str,
    current: str,
    new: str,
    *,
    min_length: int = MIN_PASSWORD_LENGTH,
    keep_session: str | None = None,
) -> None:
    """The user's own change: the current password, then a new one the policy accepts; ends the
    user's other sessions (``keep_session``: the hash of the one making the change)."""
    if authenticate(store, username, current) is None:
        raise UserError("the current password is wrong")
    if new == current:
        raise UserError("the new password is the current one")
    _check_password(new, username, min_length)
    _set_password(store, _existing(store, username), new, keep_session=keep_session)


def _set_password(
    store: Store, row: dict[str, Any], password: str, *, keep_session: str | None = None
) -> None:
    _write(store, user_of(row), _HASHER.hash(password), created_at=row["created_at"], updated_at=_after(row))
    end_sessions_of(store, row["username"], keep=keep_session)


def list_users(store: Store) -> list[User]:
    rows = store.query(f"SELECT {_COLUMNS} FROM users FINAL ORDER BY username")
    return [user_of(r) for r in rows]


def get_user(store: Store, username: str) -> User | None:
    row = _row(store, username)
    return None if row is None else user_of(row)


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The enabled user with this password, else None (same work whether or not the name exists)."""
    row = _row(store, username) if _USERNAME.match(username) else None
    try:
        _HASHER.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    return user_of(row)


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


def _existing(store: Store, username: str) -> dict[str, Any]:
    row = _row(store, username)
    if row is None:
        raise UserError(f"no user {username!r}")
    return row


def _row(store: Store, username: str) -> dict[str, Any] | None:
    rows = store.query(f"SELECT {_COLUMNS} FROM users FINAL WHERE username = %(u)s", {"u": username})
    return rows[0] if rows else None


def user_of(row: dict[str, Any]) -> User:
    """The user of a ``users`` row (its username, display_name, role, mcn_id and disabled)."""
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
    note_change()  # a disabled account or a new role: kept session checks are stale now
