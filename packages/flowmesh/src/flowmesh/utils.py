"""Helpers for building requests: resource paths and unix-nanosecond times."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

__all__ = ["build_resource_path", "nanos_to_timestamp", "timestamp_to_nanos"]

RESOURCE_TYPES = ("stream", "queue", "kv")


def build_resource_path(
    tenant: str, namespace: str, resource_type: str, name: str
) -> dict[str, str]:
    """The ``ResourcePath`` fields as a dict (``resource_type``: stream, queue or kv)."""
    return {"tenant": tenant, "namespace": namespace, "resource_type": resource_type,
            "name": name}  # fmt: skip


def timestamp_to_nanos(dt: datetime) -> int:
    """Unix nanoseconds of ``dt`` (a naive datetime is taken as local time, like
    ``datetime.timestamp``)."""
    aware = dt if dt.tzinfo is not None else dt.astimezone()
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def nanos_to_timestamp(nanos: int, tz: tzinfo | None = None) -> datetime:
    """The datetime of unix nanoseconds: naive local time by default (the inverse
    of :func:`timestamp_to_nanos` for naive input), or aware in ``tz``."""
    seconds, rest = divmod(nanos, 1_000_000_000)
    aware = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    if tz is not None:
        return aware.astimezone(tz)
    return aware.astimezone().replace(tzinfo=None)
