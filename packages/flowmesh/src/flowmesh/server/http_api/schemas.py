"""``/api/v1/schemas``: register, get, list, delete JSON Schema versions. The
tenant comes from the body (register) or ``?tenant=``; a definition is JSON
text, a JSON object, or base64 of JSON text."""

from __future__ import annotations

import binascii
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route

from flowmesh.server.auth import Caller
from flowmesh.server.errors import InvalidArgument
from flowmesh.server.http_api.common import NS_PER_MS, body, endpoint, integer, ops_of, success
from flowmesh.server.store.records import SchemaRecord


def schema_json(r: SchemaRecord) -> dict[str, Any]:
    return {"id": r.schema_id, "type": r.schema_type, "version": r.version,
            "definition": r.definition.decode("utf-8", "replace"),
            "created_at": r.created_at_ms * NS_PER_MS}  # fmt: skip


def _definition(value: Any) -> bytes:
    if isinstance(value, dict | bool):
        return orjson.dumps(value)
    if not isinstance(value, str) or not value:
        raise InvalidArgument("definition", "is required: a JSON Schema (object or JSON text)")
    try:
        orjson.loads(value)
        return value.encode()
    except orjson.JSONDecodeError:
        pass
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("definition", "is neither JSON text nor base64 of it") from None


def _tenant(request: Request, data: dict[str, Any] | None = None) -> str:
    tenant = (data or {}).get("tenant") or request.query_params.get("tenant", "")
    if not isinstance(tenant, str) or not tenant:
        raise InvalidArgument("tenant", "is required (in the body or as ?tenant=)")
    return tenant


def _version(request: Request) -> int:
    raw = request.path_params["version"]
    return integer(raw[1:] if raw.startswith("v") else raw, "version")


@endpoint("schema.register")
async def register(request: Request, caller: Caller) -> dict[str, Any]:
    """``version`` 0 or omitted: one above the latest."""
    data = await body(request)
    schema_id = data.get("schema_id", "")
    if not isinstance(schema_id, str):
        raise InvalidArgument("schema_id", "must be a string")
    record = await ops_of(request).schemas.register(
        caller, _tenant(request, data), schema_id, str(data.get("schema_type") or "jsonschema"),
        integer(data.get("version"), "version"), _definition(data.get("definition")),
    )  # fmt: skip
    return success(message="schema registered successfully", version=record.version,
                   schema=schema_json(record))  # fmt: skip


@endpoint("schema.list")
async def list_schemas(request: Request, caller: Caller) -> dict[str, Any]:
    found = await ops_of(request).schemas.list_versions(
        caller, _tenant(request), request.query_params.get("schema_id", "")
    )
    return success(schemas=[schema_json(r) for r in found])


@endpoint("schema.get")
async def get_schema(request: Request, caller: Caller) -> dict[str, Any]:
    record = await ops_of(request).schemas.get(
        caller, _tenant(request), request.path_params["schema_id"], _version(request)
    )
    return success(schema=schema_json(record))


@endpoint("schema.delete")
async def delete_schema(request: Request, caller: Caller) -> dict[str, Any]:
    await ops_of(request).schemas.delete(
        caller, _tenant(request), request.path_params["schema_id"], _version(request)
    )
    return success(message="schema deleted successfully")


ROUTES = [
    Route("/api/v1/schemas", register, methods=["POST"]),
    Route("/api/v1/schemas", list_schemas, methods=["GET"]),
    Route("/api/v1/schemas/{schema_id}/{version}", get_schema, methods=["GET"]),
    Route("/api/v1/schemas/{schema_id}/{version}", delete_schema, methods=["DELETE"]),
]
