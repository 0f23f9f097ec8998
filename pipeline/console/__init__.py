"""The web console (FastAPI, server-rendered pages): scores, live violations, review, evidence.

- :func:`serve` runs it (`claimwatch serve`; `claimwatch demo` calls it with its open store);
- :func:`create_app` builds the ASGI app for an open store (tests, embedding);
- :func:`ensure_demo_login` (from :mod:`pipeline.console.users`) makes the demo's certifier login.

Imported lazily, so the command line does not load the web stack for other commands.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "ensure_demo_login", "serve"]


def __getattr__(name: str) -> Any:
    if name == "serve":
        from pipeline.console.server import serve

        return serve
    if name == "create_app":
        from pipeline.console.app import create_app

        return create_app
    if name == "ensure_demo_login":
        from pipeline.console.users import ensure_demo_login

        return ensure_demo_login
    raise AttributeError(name)
