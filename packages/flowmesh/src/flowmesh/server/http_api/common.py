"""What every HTTP handler shares: the caller, path resources, JSON bodies,
base64 payloads, and errors as ``{"status": "error", "message", "code"}``.

Handlers are thin: decode the request, call the operations (the same ones the
gRPC services call), encode the answer as the FlowMesh project's HTTP API does
(``{"status": "success", ...}``, payloads base64, times unix nanoseconds).
"""

from __future__ import annotations

import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from flowmesh.server import validation as v
from flowmesh.server.auth import Authenticator, Caller
from flowmesh.server.errors import InvalidArgument, SchemaChanged, ServiceError
from flowmesh.server.metrics import Metrics
from flowmesh.server.ops import Operations
from flowmesh.server.store.records import Resource

log = logging.getLogger("flowmesh.server")

NS_PER_MS = 1_000_000
# The largest request body read (as gRPC's largest message).
MAX_BODY_BYTES = 64 * 1024 * 1024
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}
Handler = Callable[[Request, Caller], Awaitable[Any]]


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(**fields: Any) -> dict[str, Any]:
    return {"status": "success", **fields}


def error_of(exc: Exception, name: str) -> tuple[str, str]:
    """(status kind, message) for an exception raised while serving ``name``."""
    if isinstance(exc, ServiceError):
        return exc.kind, exc.message
    if isinstance(exc, SchemaChanged):
        return "UNAVAILABLE", "the schema of the resource kept changing; retry"
    if isinstance(exc, RedisError | OSError):
        log.warning("store unavailable", extra={"method": name, "error": repr(exc)})
        return "UNAVAILABLE", f"store unavailable: {type(exc).__name__}"
    log.exception("internal error", extra={"method": name}, exc_info=exc)
    return "INTERNAL", "internal error"


def error_response(kind: str, message: str) -> JSONResponse:
    code = HTTP_STATUS.get(kind, 500)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse({"status": "error", "message": message, "code": code}, code, headers)


def ops_of(request: Request) -> Operations:
    ops: Operations = request.app.state.ops
    return ops


def endpoint(name: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: authenticate, run, count and time it, map errors to JSON."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            metrics: Metrics = request.app.state.metrics
            auth: Authenticator = request.app.state.auth
            began = time.perf_counter()
            kind = "OK"
            try:
                caller = auth.caller(request.headers.get("authorization"))
                out = await handler(request, caller)
                response = out if isinstance(out, Response) else JSONResponse(out)
            except Exception as exc:
                kind, message = error_of(exc, f"http.{name}")
                response = error_response(kind, message)
            metrics.observe(f"http.{name}", kind, time.perf_counter() - began)
            return response

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return wrap


def path_resource(request: Request, kind: str) -> Resource:
    p = request.path_params
    return v.resource(p["tenant"], p["namespace"], kind, p["name"], (kind,))


async def body(request: Request, required: bool = True) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InvalidArgument("body", f"is {declared} bytes, over the limit of {MAX_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidArgument("body", f"is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        if required:
            raise InvalidArgument("body", "must be a JSON object")
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument("body", f"is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument("body", f"must be a JSON object, got {type(data).__name__}")
    return data


def b64(value: Any, field: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise InvalidArgument(field, f"must be a base64 string, got {type(value).__name__}")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(field, "is not valid base64") from None


def enc(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


def integer(value: Any, field: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidArgument(field, "must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise InvalidArgument(field, f"must be an integer, got {value!r}")


def number(value: Any, field: str, default: float = 0.0) -> float:
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise InvalidArgument(field, f"must be a number, got {value!r}")


def query_int(request: Request, name: str, default: int = 0) -> int:
    return integer(request.query_params.get(name), name, default)


def string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in value.items()
    ):
        raise InvalidArgument(field, "must be an object of string values")
    return value


def seconds_to_ms(data: dict[str, Any], field: str, default_ms: int = 0) -> int:
    """A published duration in seconds (fractions allowed) as milliseconds."""
    if data.get(field) is None:
        return default_ms
    return round(number(data[field], field) * 1000)


def path_dict(resource: Resource, kind: str) -> dict[str, str]:
    return {"tenant": resource.tenant, "namespace": resource.namespace,
            "resource_type": kind, "name": resource.name}  # fmt: skip
