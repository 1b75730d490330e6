"""Checks on every request field, free of I/O; a failure names the field.

Transports turn :class:`InvalidArgument` into their "invalid argument" status
with the message as details, e.g. ``resource_path.name: must be 1-128 characters ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowmesh.server.defaults import DEFAULT_RESPONSE_BYTES
from flowmesh.server.errors import InvalidArgument
from flowmesh.server.store.records import Resource

__all__ = ["InvalidArgument", "Limits"]

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_KEY_BYTES = 1024
MAX_HEADERS = 64
MAX_HEADER_KEY = 256
MAX_HEADER_VALUE = 4096
MAX_PARTITIONS = 1024
MAX_WRITE_EVENTS = 10_000
MAX_READ_MESSAGES = 10_000
MAX_RECEIVE_JOBS = 100
MAX_BATCH_JOBS = 100
MAX_LONG_POLL_MS = 20_000
MAX_VISIBILITY_MS = 12 * 3600 * 1000
MAX_DELAY_MS = 7 * 24 * 3600 * 1000
MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000
MAX_DEDUP_ID = 256
MAX_ATTEMPTS = 100


# Replay sessions deliver to consumer groups with this prefix (as published).
SANDBOX_PREFIX = "_replay_"
RESOURCE_TYPES = ("stream", "queue", "kv")


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 1024 * 1024
    # Read and Subscribe stop adding messages before a response passes this.
    max_response_bytes: int = DEFAULT_RESPONSE_BYTES


def name(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidArgument(
            field, "must be 1-128 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )  # fmt: skip
    return value


def resource(
    tenant: str,
    namespace: str,
    resource_type: str,
    res_name: str,
    kinds: tuple[str, ...],
    field: str = "resource_path",
) -> Resource:
    """A resource path's parts -> :class:`Resource`, its type one of ``kinds``."""
    if resource_type not in kinds:
        wanted = " or ".join(repr(k) for k in kinds)
        got = repr(resource_type) if resource_type else "nothing"
        raise InvalidArgument(f"{field}.resource_type", f"must be {wanted} here, got {got}")
    return Resource(
        name(tenant, f"{field}.tenant"),
        name(namespace, f"{field}.namespace"),
        name(res_name, f"{field}.name"),
    )


def consumer_group(value: str, field: str = "consumer_group") -> str:
    """A group name; replay sandbox groups (``_replay_...``) are names too."""
    if value.startswith(SANDBOX_PREFIX) and len(value) > len(SANDBOX_PREFIX):
        name(value[len(SANDBOX_PREFIX) :], field)
        return value
    return name(value, field)


def sandbox_group(value: str, field: str = "sandbox_consumer_group") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not value.startswith(SANDBOX_PREFIX):
        raise InvalidArgument(field, f"must start with {SANDBOX_PREFIX!r}, got {value!r}")
    return consumer_group(value, field)


def payload(value: bytes, field: str, limits: Limits) -> bytes:
    if len(value) > limits.max_payload_bytes:
        raise InvalidArgument(
            field, f"is {len(value)} bytes, over the limit of {limits.max_payload_bytes}"
        )
    return value


def headers(value: dict[str, str], field: str) -> dict[str, str]:
    if len(value) > MAX_HEADERS:
        raise InvalidArgument(field, f"has {len(value)} entries, over the limit of {MAX_HEADERS}")
    for k, v in value.items():
        if not k or len(k) > MAX_HEADER_KEY:
            raise InvalidArgument(field, f"keys must be 1-{MAX_HEADER_KEY} characters")
        if len(v) > MAX_HEADER_VALUE:
            raise InvalidArgument(
                f"{field}[{k!r}]", f"is over the limit of {MAX_HEADER_VALUE} characters"
            )
    return value


def in_range(value: int, field: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}, got {value}")
    return value


def duration_ms(value: int, field: str, low: int, high: int) -> int:
    """A duration in milliseconds; the error speaks seconds (the published unit)."""
    if not low <= value <= high:
        raise InvalidArgument(
            field, f"must be between {low / 1000:g} and {high / 1000:g} seconds, "
            f"got {value / 1000:g}",
        )  # fmt: skip
    return value


def kv_key(value: str, field: str = "key") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value.encode()) > MAX_KEY_BYTES:
        raise InvalidArgument(field, f"is over the limit of {MAX_KEY_BYTES} bytes")
    return value


def prefix(value: str, field: str = "prefix") -> str:
    if len(value.encode()) > MAX_KEY_BYTES:
        raise InvalidArgument(field, f"is over the limit of {MAX_KEY_BYTES} bytes")
    return value


def dedup_id(value: str, field: str = "dedup_id") -> str:
    if len(value) > MAX_DEDUP_ID:
        raise InvalidArgument(field, f"is over the limit of {MAX_DEDUP_ID} characters")
    return value


MAX_PRODUCER_ID = 64


def producer_id(value: str, seq: int, field: str = "producer_id") -> str:
    """An idempotent producer's id (letters, digits, '-', '_', '.'); its sequence
    number must be >= 0 and needs an id."""
    prefix = field.removesuffix("producer_id")
    if not value:
        if seq:
            raise InvalidArgument(f"{prefix}producer_seq", "is set without producer_id")
        return value
    if len(value) > MAX_PRODUCER_ID or not all(c.isascii() and (c.isalnum() or c in "-_.")
                                              for c in value):  # fmt: skip
        raise InvalidArgument(
            field, f"must be 1-{MAX_PRODUCER_ID} characters of letters, digits, '-', '_', '.'"
        )
    if seq < 0:
        raise InvalidArgument(f"{prefix}producer_seq", f"must be >= 0, got {seq}")
    return value


def job_id(value: str, field: str = "job_id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value) > 64:
        raise InvalidArgument(field, "is not a job id")
    return value
