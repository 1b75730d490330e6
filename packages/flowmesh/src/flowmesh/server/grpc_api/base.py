"""What every gRPC service shares: errors to status codes, the caller, resource
paths, units (published seconds / our milliseconds / unix nanoseconds)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from redis.exceptions import RedisError

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.server import validation as v
from flowmesh.server.auth import Authenticator, Caller
from flowmesh.server.errors import InvalidArgument, SchemaChanged, ServiceError
from flowmesh.server.metrics import Metrics
from flowmesh.server.ops import Operations
from flowmesh.server.store.records import Resource

log = logging.getLogger("flowmesh.server")
T = TypeVar("T")

NS_PER_MS = 1_000_000
_CHECKED_RESOURCES = 4096


def ok(message: str = "ok") -> pb.Status:
    return pb.Status(code=0, message=message)


def status_of(method: str, exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC status for an exception raised while serving ``method``."""
    if isinstance(exc, ServiceError):
        return grpc.StatusCode[exc.kind], exc.message
    if isinstance(exc, SchemaChanged):
        return grpc.StatusCode.UNAVAILABLE, "the schema of the resource kept changing; retry"
    if isinstance(exc, RedisError | OSError):
        log.warning("store unavailable", extra={"method": method, "error": repr(exc)})
        return grpc.StatusCode.UNAVAILABLE, f"store unavailable: {type(exc).__name__}"
    log.exception("internal error", extra={"method": method}, exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error"


def status_message(exc: Exception, method: str) -> pb.Status:
    """A failed batch item's (or subscription's) Status."""
    code, detail = status_of(method, exc)
    return pb.Status(code=code.value[0], message=detail)


def millis(request: Any, ms_field: str, seconds_field: str) -> int:
    """A duration: our millisecond field when set, else the published seconds."""
    if request.HasField(ms_field):
        return int(getattr(request, ms_field))
    return int(getattr(request, seconds_field)) * 1000


def nanos(ms: int) -> int:
    return ms * NS_PER_MS if ms else 0


class Service:
    """Base of the servicers: the operations, the authenticator, the metrics."""

    def __init__(self, ops: Operations, auth: Authenticator, metrics: Metrics) -> None:
        self.ops = ops
        self.auth = auth
        self.metrics = metrics
        self._checked: dict[tuple[str, str, str, str, tuple[str, ...]], Resource] = {}

    def caller(self, context: grpc.aio.ServicerContext) -> Caller:
        if self.auth.open:
            return self.auth.caller(None)
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                return self.auth.caller(value if isinstance(value, str) else value.decode())
        return self.auth.caller(None)

    def resource(self, request: Any, *kinds: str, field: str = "resource_path") -> Resource:
        if not request.HasField(field):
            raise InvalidArgument(field, "is required")
        path = getattr(request, field)
        # Clients name the same few resources over and over: keep the checked ones.
        key = (path.tenant, path.namespace, path.resource_type, path.name, kinds)
        found = self._checked.get(key)
        if found is None:
            found = v.resource(path.tenant, path.namespace, path.resource_type, path.name,
                               kinds, field)  # fmt: skip
            if len(self._checked) >= _CHECKED_RESOURCES:
                self._checked.clear()
            self._checked[key] = found
        return found

    async def call(
        self, method: str, context: grpc.aio.ServicerContext, body: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``body``; count and time it; a failure ends the call with its status."""
        began = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await body()
        except Exception as exc:
            code, detail = status_of(method, exc)
        finally:
            self.metrics.observe(method, code.name, time.perf_counter() - began)
        await context.abort(code, detail)
        raise AssertionError("abort returned")  # context.abort always raises
