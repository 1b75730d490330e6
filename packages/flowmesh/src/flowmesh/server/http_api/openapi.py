"""The OpenAPI 3.1 document of the HTTP API, built from the routes themselves
(so it cannot list a path the server does not serve, or miss one)."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import BaseRoute, Route

from flowmesh import __version__

_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")
_ERROR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for code, text in (
        (400, "a request field is invalid (the message names it)"),
        (401, "missing, unknown, revoked or expired token"),
        (403, "the token may not touch this tenant, namespace or kind"),
        (404, "no such resource, key, schema or session"),
    )
}


def _operation(route: Route, method: str, tag: str) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or "").strip()
    name = getattr(route.endpoint, "__name__", route.name)
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in _PARAM.findall(route.path)
    ]
    op: dict[str, Any] = {
        "operationId": f"{tag}_{name}_{method}",
        "tags": [tag],
        "summary": name.replace("_", " "),
        "parameters": params,
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": 'success: {"status": "success", ...}'},
            **_ERRORS,
        },
    }
    if doc:
        op["description"] = doc
    if method in ("post", "put"):
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": {"type": "object"}}}}  # fmt: skip
    return op


def document(routes: list[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or route.methods is None:
            continue
        path = _PARAM.sub(r"{\1}", route.path)
        parts = path.strip("/").split("/")
        tag = parts[2] if parts[:2] == ["api", "v1"] and len(parts) > 2 else "health"
        for method in sorted(route.methods - {"HEAD"} if "GET" in route.methods
                             else route.methods):  # fmt: skip
            entry = paths.setdefault(path, {})
            op = _operation(route, method.lower(), tag)
            if path in ("/health", "/ready", "/openapi.json", "/metrics"):
                op["security"] = []
            entry[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "FlowMesh HTTP API",
            "version": __version__,
            "description": "Streams, queues, KV, schemas and replay over HTTP. Payloads and "
            "values are base64, times unix nanoseconds, durations seconds. Live updates: "
            "WebSocket at /ws.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {
                "status": {"const": "error"}, "message": {"type": "string"},
                "code": {"type": "integer"}}}},
        },
    }  # fmt: skip
