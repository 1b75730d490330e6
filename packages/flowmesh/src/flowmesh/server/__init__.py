"""The FlowMesh server: gRPC services over a SQLite or Redis store (``flowmesh serve``)."""

from flowmesh.server.app import ServerSettings, open_store, run_server, serve

__all__ = ["ServerSettings", "open_store", "run_server", "serve"]
