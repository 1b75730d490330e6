"""Storage behind the FlowMesh server: one interface, an SQLite and a Redis implementation."""

from flowmesh.server.store.base import Store

__all__ = ["Store"]
