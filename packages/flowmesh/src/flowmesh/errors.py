"""The SDK's error tree, mapped from gRPC status codes.

::

    FlowMeshError
    ├── FlowMeshConnectionError        UNAVAILABLE, DEADLINE_EXCEEDED, unreachable server
    ├── FlowMeshAuthError              UNAUTHENTICATED (missing or unknown token)
    ├── FlowMeshPermissionDeniedError  PERMISSION_DENIED (token not allowed this tenant)
    ├── FlowMeshNotFoundError          NOT_FOUND (unknown stream, queue, store, key or job)
    └── FlowMeshInvalidArgumentError   INVALID_ARGUMENT (the message names the field)
"""

from __future__ import annotations

import grpc


class FlowMeshError(Exception):
    """Any failure of a FlowMesh call. ``code`` is the gRPC status code, when there is one."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class FlowMeshConnectionError(FlowMeshError):
    """The server could not be reached or did not answer in time."""


class FlowMeshAuthError(FlowMeshError):
    """The server rejected the token (missing, malformed or unknown)."""


class FlowMeshPermissionDeniedError(FlowMeshError):
    """The token is valid but may not touch this tenant."""


class FlowMeshNotFoundError(FlowMeshError):
    """The stream, queue, KV store, key or job does not exist."""


class FlowMeshInvalidArgumentError(FlowMeshError):
    """The request was rejected before anything was written; the message names the field."""


_BY_CODE: dict[grpc.StatusCode, type[FlowMeshError]] = {
    grpc.StatusCode.UNAVAILABLE: FlowMeshConnectionError,
    grpc.StatusCode.DEADLINE_EXCEEDED: FlowMeshConnectionError,
    grpc.StatusCode.UNAUTHENTICATED: FlowMeshAuthError,
    grpc.StatusCode.PERMISSION_DENIED: FlowMeshPermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: FlowMeshNotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: FlowMeshInvalidArgumentError,
}


def from_rpc_error(exc: grpc.aio.AioRpcError) -> FlowMeshError:
    code = exc.code()
    cls = _BY_CODE.get(code, FlowMeshError)
    return cls(exc.details() or code.name, code)


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def from_status(code: int, message: str) -> FlowMeshError:
    """The error for one failed item of a batch call (a gRPC status code and detail)."""
    status = _CODES.get(code, grpc.StatusCode.UNKNOWN)
    return _BY_CODE.get(status, FlowMeshError)(message or status.name, status)
