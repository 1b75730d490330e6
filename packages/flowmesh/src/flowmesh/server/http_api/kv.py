"""``/api/v1/kv``: list stores, set/get/delete/HEAD a key, list keys."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flowmesh.server.auth import Caller
from flowmesh.server.errors import InvalidArgument
from flowmesh.server.http_api.common import (
    b64,
    body,
    enc,
    endpoint,
    integer,
    ops_of,
    path_dict,
    path_resource,
    query_int,
    seconds_to_ms,
    success,
)

BASE = "/api/v1/kv/{tenant}/{namespace}/{name}"


@endpoint("kv.list_stores")
async def list_stores(request: Request, caller: Caller) -> dict[str, Any]:
    q = request.query_params
    page = await ops_of(request).listing.kv_stores_page(
        caller, q.get("tenant", ""), q.get("namespace", ""),
        query_int(request, "page_size"), q.get("page_token", ""),
    )  # fmt: skip
    return success(stores=[{**path_dict(i.resource, "kv"), "keys": i.keys} for i in page.items],
                   next_page_token=page.next_page_token)  # fmt: skip


@endpoint("kv.set")
async def set_key(request: Request, caller: Caller) -> dict[str, Any]:
    data = await body(request)
    if "value" not in data:
        raise InvalidArgument("value", "is required (base64)")
    ttl = (integer(data["ttl_ms"], "ttl_ms") if "ttl_ms" in data
           else seconds_to_ms(data, "ttl_seconds"))  # fmt: skip
    await ops_of(request).kv.set(caller, path_resource(request, "kv"), request.path_params["key"],
                                 b64(data["value"], "value"), ttl)  # fmt: skip
    return success(message="key-value pair set successfully")


@endpoint("kv.get")
async def get_key(request: Request, caller: Caller) -> dict[str, Any]:
    value = await ops_of(request).kv.get(
        caller, path_resource(request, "kv"), request.path_params["key"]
    )
    return success(message="value retrieved successfully", value=enc(value))


@endpoint("kv.delete")
async def delete_key(request: Request, caller: Caller) -> dict[str, Any]:
    deleted = await ops_of(request).kv.delete(
        caller, path_resource(request, "kv"), request.path_params["key"]
    )
    return success(message="key deleted successfully", deleted=deleted)


@endpoint("kv.exists")
async def head_key(request: Request, caller: Caller) -> Response:
    """200 when the key exists, 404 when not (no body, as HEAD wants)."""
    found = await ops_of(request).kv.exists(
        caller, path_resource(request, "kv"), request.path_params["key"]
    )
    return Response(status_code=200 if found else 404)


@endpoint("kv.list_keys")
async def list_keys(request: Request, caller: Caller) -> dict[str, Any]:
    page = await ops_of(request).kv.list_keys(
        caller, path_resource(request, "kv"), request.query_params.get("prefix", ""),
        query_int(request, "limit"), request.query_params.get("page_token", ""),
    )  # fmt: skip
    return success(message="keys listed successfully", keys=page.keys,
                   next_page_token=page.next_after or "")  # fmt: skip


ROUTES = [
    Route("/api/v1/kv", list_stores, methods=["GET"]),
    Route(BASE + "/keys", list_keys, methods=["GET"]),
    # HEAD first: a GET route answers HEAD too.
    Route(BASE + "/keys/{key:path}", head_key, methods=["HEAD"]),
    Route(BASE + "/keys/{key:path}", set_key, methods=["PUT"]),
    Route(BASE + "/keys/{key:path}", get_key, methods=["GET"]),
    Route(BASE + "/keys/{key:path}", delete_key, methods=["DELETE"]),
]
