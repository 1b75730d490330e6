"""Typed errors raised by symphony_ai."""

from __future__ import annotations


class SymphonyError(Exception):
    """Base class of every error symphony_ai raises on purpose."""


class NotInitializedError(SymphonyError, RuntimeError):
    """GlobalSymphony (or the Redis client registry) was used before it was set up."""


class InvalidKeyPartError(SymphonyError, ValueError):
    """A tenant, user, state or other key component is empty, too long or not a string."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SerializationError(SymphonyError, TypeError):
    """A value cannot be stored (unsupported type) or a stored value cannot be read back."""


class StoredValueError(SymphonyError, ValueError):
    """An atomic operation found a stored value of the wrong kind (e.g. incrementing text)."""


class BridgeError(SymphonyError, RuntimeError):
    """The sync-to-async bridge was misused (e.g. called on the event-loop thread)."""


class ExecutorFullError(SymphonyError, RuntimeError):
    """A bounded executor had no free slot within the allowed wait."""
