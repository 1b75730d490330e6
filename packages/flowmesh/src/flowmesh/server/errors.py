"""The errors the server raises on purpose, each tagged with its status kind.

They carry no transport: the gRPC layer maps ``kind`` to a gRPC status code
(and an HTTP layer can map it to an HTTP status) with the message as detail.
A message names the request field at fault first, e.g.
``resource_path.name: must be 1-128 characters ...``.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """Base of the deliberate errors; ``kind`` is a gRPC status code name."""

    kind: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    """A request field is malformed or out of range; nothing was written."""

    kind = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class Conflict(InvalidArgument):
    """The request does not fit the resource's state (a partition out of range, a
    stream that cannot shrink). ``message`` already starts with the field."""

    def __init__(self, field: str, message: str) -> None:
        ServiceError.__init__(self, message)
        self.field = field


class NotFound(ServiceError):
    """The stream, queue, store, key, job, schema or session does not exist."""

    kind = "NOT_FOUND"


class AlreadyExists(ServiceError):
    kind = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    """The resource is not in a state that allows the call (a schema version in
    use, a replay session that is not paused)."""

    kind = "FAILED_PRECONDITION"


class ResourceExhausted(ServiceError):
    kind = "RESOURCE_EXHAUSTED"


class Unauthenticated(ServiceError):
    """No token, or a token the server does not know."""

    kind = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    """A known token that may not touch this tenant."""

    kind = "PERMISSION_DENIED"


class SchemaChanged(Exception):
    """Raised by a store when the schema attached to a resource is not the one the
    caller validated against (another server attached a new one meanwhile).
    ``current`` is the attachment now stored ("" for none)."""

    def __init__(self, current: str) -> None:
        super().__init__(f"schema attachment changed to {current!r}")
        self.current = current
