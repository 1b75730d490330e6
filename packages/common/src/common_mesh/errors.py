"""Typed errors of the mesh client and receiver."""

from __future__ import annotations

__all__ = [
    "MeshDeliveryError",
    "MeshError",
    "MeshModelError",
    "MeshNameError",
    "MeshSessionThreadError",
]


class MeshError(Exception):
    """Base class of every common_mesh error."""


class MeshNameError(MeshError, ValueError):
    """An org, module or model name that the mesh does not accept."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field} {value!r} {reason}")
        self.field = field
        self.value = value


class MeshModelError(MeshError, ValueError):
    """A model that cannot be sent (wrong type, or larger than a whole batch)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"model #{index}: {message}")
        self.index = index


class MeshSessionThreadError(MeshError, RuntimeError):
    """A session was used from a thread other than the one that created it."""


class MeshDeliveryError(MeshError):
    """A batch could not be stored: the receiver refused it or stayed unreachable.

    ``status`` is the last HTTP status (``None`` when no answer came),
    ``detail`` the receiver's error message, ``sent_models`` how many models
    earlier batches had already delivered.
    """

    def __init__(
        self,
        message: str,
        *,
        batch_id: str,
        status: int | None,
        detail: str,
        attempts: int,
        sent_models: int = 0,
    ) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.status = status
        self.detail = detail
        self.attempts = attempts
        self.sent_models = sent_models
