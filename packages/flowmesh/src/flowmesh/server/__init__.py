"""The FlowMesh server: gRPC services over a SQLite or Redis store (``flowmesh serve``).

Needs the ``server`` extra (``pip install 'mimeia-flowmesh[server]'``). Its names are
loaded on first use, so ``flowmesh.server.mimeia_service`` and ``flowmesh.server.defaults``
import without the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowmesh.server.app import ServerSettings, open_store, run_server, serve

__all__ = ["ServerSettings", "open_store", "run_server", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from flowmesh.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
