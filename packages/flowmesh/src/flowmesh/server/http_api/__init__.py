"""The HTTP edge: the FlowMesh project's ``/api/v1`` JSON API, ``/health``,
``/ready``, ``/openapi.json`` and the ``/ws`` WebSocket, over the same
operations as the gRPC services. Needs the ``mimeia-flowmesh[server]`` extra."""

from __future__ import annotations

from flowmesh.server.http_api.app import build_app, serve_http

__all__ = ["build_app", "serve_http"]
