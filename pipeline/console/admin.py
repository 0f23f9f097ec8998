"""Account administration, one set of operations for the CLI, the console's accounts page and the
console's administration socket.

Why a socket: the embedded warehouse (chdb) can be open in one process per data directory, so
while `claimwatch serve` runs, `claimwatch users disable` cannot open the store, and a
compromised officer could not be cut off without stopping the console. So a console serving an
embedded store also listens on a Unix socket, ``data_dir/console.sock`` (mode 0600: whoever may use
it may read the data directory anyway, warehouse and signing key included), and the `users`
commands send their operation there when it answers; otherwise they open the store themselves
(a server warehouse, or no console running). One JSON line asks, one JSON line answers.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.console.users import (
    User,
    UserError,
    add_user,
    list_users,
    reset_password,
    set_disabled,
    set_role,
)
from pipeline.errors import ClaimWatchError
from pipeline.reporting.audit import record
from pipeline.warehouse import Store

SOCKET_NAME = "console.sock"
MAX_REQUEST_BYTES = 64 * 1024


class ConsoleUnreachable(ClaimWatchError):
    """No console answers on the administration socket."""


def socket_path(settings: Settings) -> Path:
    return settings.data_dir / SOCKET_NAME


def administer(store: Store, settings: Settings, actor: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Carry out one operation for ``actor`` (a certifier's user name, or ``cli``), audited."""
    handler = OPERATIONS.get(op)
    if handler is None:
        raise UserError(f"no account operation {op!r}")
    return handler(store, settings, actor, **args)


def _add(
    store: Store,
    settings: Settings,
    actor: str,
    *,
    username: str,
    password: str,
    role: str,
    mcn_id: str = "",
    display_name: str = "",
) -> dict[str, Any]:
    user = add_user(
        store,
        username,
        password,
        role,
        mcn_id=mcn_id,
        display_name=display_name,
        min_length=settings.console_password_min_length,
    )
    record(store, actor, "user.add", user.username, user.mcn_id, role=user.role)
    return {"user": asdict(user)}


def _list(store: Store, settings: Settings, actor: str) -> dict[str, Any]:
    return {"users": [asdict(u) for u in list_users(store)]}


def _disable(store: Store, settings: Settings, actor: str, *, username: str) -> dict[str, Any]:
    return _switch(store, actor, username, True)


def _enable(store: Store, settings: Settings, actor: str, *, username: str) -> dict[str, Any]:
    return _switch(store, actor, username, False)


def _switch(store: Store, actor: str, username: str, disabled: bool) -> dict[str, Any]:
    if disabled and username == actor:
        raise UserError("you cannot disable your own account (ask another certifier)")
    user = set_disabled(store, username, disabled)
    record(store, actor, "user.disable" if disabled else "user.enable", user.username, user.mcn_id)
    return {"user": asdict(user)}


def _set_role(
    store: Store, settings: Settings, actor: str, *, username: str, role: str, mcn_id: str = ""
) -> dict[str, Any]:
    if username == actor:
        raise UserError("you cannot change your own role (ask another certifier)")
    user = set_role(store, username, role, mcn_id=mcn_id)
    record(store, actor, "user.role", user.username, user.mcn_id, role=user.role)
    return {"user": asdict(user)}


def _reset(store: Store, settings: Settings, actor: str, *, username: str) -> dict[str, Any]:
    password = reset_password(store, username)
    user = _user(store, username)
    record(store, actor, "user.password_reset", user.username, user.mcn_id)
    return {"user": asdict(user), "password": password}


def _user(store: Store, username: str) -> User:
    found = next((u for u in list_users(store) if u.username == username), None)
    if found is None:
        raise UserError(f"no user {username!r}")
    return found


OPERATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "add": _add,
    "list": _list,
    "disable": _disable,
    "enable": _enable,
    "set-role": _set_role,
    "reset-password": _reset,
}


class AdminSocket:
    """The console's administration socket (see the module's text), served in a thread."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.path = socket_path(settings)
        self._settings = settings
        self._store = store
        self._server: socketserver.UnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AdminSocket:
        if len(os.fsencode(self.path)) >= 104:
            raise ConsoleUnreachable(f"{self.path} is too long a path for a Unix socket")
        if self.path.exists():
            self.path.unlink()  # left by a console that crashed (a live one would hold the store)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handler = _handler(self._settings, self._store)
        previous = os.umask(0o177)
        try:
            self._server = socketserver.ThreadingUnixStreamServer(str(self.path), handler)
        finally:
            os.umask(previous)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="admin-socket")
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.path.unlink(missing_ok=True)


def _handler(settings: Settings, store: Store) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline(MAX_REQUEST_BYTES)
            try:
                asked = json.loads(line)
                answer = {
                    "ok": True,
                    **administer(store, settings, "cli", asked["op"], asked.get("args", {})),
                }
            except (ClaimWatchError, ValueError, KeyError, TypeError) as exc:
                answer = {"ok": False, "error": str(exc)}
            self.wfile.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")

    return Handler


def call_console(settings: Settings, op: str, args: dict[str, Any], timeout_s: float = 60) -> dict[str, Any]:
    """Ask the running console to carry out ``op``; ConsoleUnreachable when none answers,
    UserError when it refuses."""
    path = socket_path(settings)
    if not path.exists():
        raise ConsoleUnreachable(f"no console socket at {path}")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(str(path))
            conn.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
            answer = json.loads(conn.makefile("rb").readline())
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        raise ConsoleUnreachable(f"no console answers at {path}") from exc
    if not answer.get("ok"):
        raise UserError(str(answer.get("error")))
    return dict(answer)
