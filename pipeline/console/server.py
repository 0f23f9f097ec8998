"""Serving the console: `claimwatch serve`, and `serve()` for `claimwatch demo` to call."""

from __future__ import annotations

from collections.abc import Callable

import click
import uvicorn

from pipeline.config import Settings
from pipeline.console.admin import AdminSocket, ConsoleUnreachable
from pipeline.console.app import create_app
from pipeline.warehouse import Store, open_store


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    store: Store | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the console until interrupted (Ctrl-C).

    Pass ``store`` to reuse an open store (the embedded warehouse can be open in one process only,
    so `claimwatch demo` hands over the one it filled); otherwise the settings' store is opened
    and closed here. ``on_ready`` is called with the console's URL once it accepts connections.
    With an embedded store, account administration is served on a socket in the data directory
    meanwhile (:mod:`pipeline.console.admin`), so `claimwatch users` works while this runs.
    """
    owned = store is None
    opened = open_store(settings) if store is None else store
    admin = _admin_socket(settings, opened)
    try:
        config = uvicorn.Config(
            create_app(settings, opened),
            host=host or settings.console_host,
            port=settings.console_port if port is None else port,
            log_level="warning",
            proxy_headers=False,
        )
        server = _ReadyServer(config, on_ready or (lambda url: click.echo(f"console at {url}")))
        server.run()
    finally:
        if admin is not None:
            admin.close()
        if owned:
            opened.close()


def _admin_socket(settings: Settings, store: Store) -> AdminSocket | None:
    """The administration socket of an embedded store (only this process can open it)."""
    if store.kind != "embedded":
        return None
    try:
        return AdminSocket(settings, store).start()
    except (OSError, ConsoleUnreachable) as exc:
        click.echo(
            f"warning: no administration socket ({exc}); `claimwatch users` needs the console stopped",
            err=True,
        )
        return None


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that says where it listens once it does."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1] if self.servers else self.config.port
            self._on_ready(f"http://{self.config.host}:{port}/")
