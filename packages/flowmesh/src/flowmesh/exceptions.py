"""The SDK's errors, one class per kind of failure (mapped from gRPC status codes).

::

    FlowMeshError
    ├── FlowMeshConnectionError          UNAVAILABLE, DEADLINE_EXCEEDED, unreachable server
    ├── FlowMeshAuthError                UNAUTHENTICATED (missing or unknown token)
    ├── FlowMeshPermissionDeniedError    PERMISSION_DENIED (token not allowed this tenant)
    ├── FlowMeshNotFoundError            NOT_FOUND (stream, queue, store, key, job, schema, session)
    ├── FlowMeshInvalidArgumentError     INVALID_ARGUMENT (the details name the field)
    ├── FlowMeshAlreadyExistsError       ALREADY_EXISTS (a schema version, a sandbox group)
    ├── FlowMeshFailedPreconditionError  FAILED_PRECONDITION (a schema in use, a replay's state)
    └── FlowMeshResourceExhaustedError   RESOURCE_EXHAUSTED

A failed call raises with the message ``"<operation> failed: <server's message>"``;
``details`` holds the server's message alone and ``code`` the gRPC status code.
"""

from __future__ import annotations

from typing import Any

import grpc

__all__ = [
    "FlowMeshAlreadyExistsError",
    "FlowMeshAuthError",
    "FlowMeshConnectionError",
    "FlowMeshError",
    "FlowMeshFailedPreconditionError",
    "FlowMeshInvalidArgumentError",
    "FlowMeshNotFoundError",
    "FlowMeshPermissionDeniedError",
    "FlowMeshResourceExhaustedError",
    "error_for_status",
    "handle_grpc_error",
]


class FlowMeshError(Exception):
    """Any failure of a FlowMesh call. ``code``: the gRPC status code, when there is
    one; ``details``: what the server said."""

    def __init__(self, message: str, code: Any = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


class FlowMeshConnectionError(FlowMeshError):
    """The server could not be reached or did not answer in time."""


class FlowMeshAuthError(FlowMeshError):
    """The server rejected the token (missing, malformed or unknown)."""


class FlowMeshPermissionDeniedError(FlowMeshError):
    """The token is valid but may not touch this tenant."""


class FlowMeshNotFoundError(FlowMeshError):
    """The stream, queue, KV store, key, job, schema or replay session does not exist."""


class FlowMeshInvalidArgumentError(FlowMeshError):
    """The request was refused before anything was written; the details name the field."""


class FlowMeshAlreadyExistsError(FlowMeshError):
    """The schema version (or the replay sandbox group) exists already."""


class FlowMeshFailedPreconditionError(FlowMeshError):
    """The resource's state does not allow the call (a schema version in use, a
    replay session that is not in the state the call needs)."""


class FlowMeshResourceExhaustedError(FlowMeshError):
    """The server refused to build an answer that large."""


_BY_CODE: dict[grpc.StatusCode, type[FlowMeshError]] = {
    grpc.StatusCode.UNAVAILABLE: FlowMeshConnectionError,
    grpc.StatusCode.DEADLINE_EXCEEDED: FlowMeshConnectionError,
    grpc.StatusCode.UNAUTHENTICATED: FlowMeshAuthError,
    grpc.StatusCode.PERMISSION_DENIED: FlowMeshPermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: FlowMeshNotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: FlowMeshInvalidArgumentError,
    grpc.StatusCode.ALREADY_EXISTS: FlowMeshAlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FlowMeshFailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: FlowMeshResourceExhaustedError,
}
_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _build(code: grpc.StatusCode, details: str, operation: str) -> FlowMeshError:
    cls = _BY_CODE.get(code, FlowMeshError)
    return cls(f"{operation} failed: {details or code.name}", code=code, details=details)


def handle_grpc_error(error: Exception, operation: str) -> FlowMeshError:
    """The FlowMeshError for a failed gRPC call (anything with ``code()`` and
    ``details()``); its message starts with ``"<operation> failed"``."""
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details = details_of() if callable(details_of) else str(error)
    return _build(code, details or "", operation)


def error_for_status(code: int, message: str, operation: str) -> FlowMeshError:
    """The FlowMeshError for a Status carried in a response (a failed batch item,
    an error frame of a subscription)."""
    return _build(_CODES.get(code, grpc.StatusCode.UNKNOWN), message, operation)
