"""Sync state behind one interface, in Redis (shared by replicas) or SQLite (embedded).

``open_store`` picks the backend from a URL:

- ``redis://host:6379/0`` (also ``rediss://``, ``unix://``): replicas share it.
- ``sqlite:///relative/sync.db`` or ``sqlite:////abs/sync.db``: one file, no server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from slack_connect.store.base import SyncStore, ts_key

__all__ = ["StoreLocation", "SyncStore", "open_store", "parse_store_url", "ts_key"]

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


@dataclass(frozen=True)
class StoreLocation:
    backend: Literal["redis", "sqlite"]
    target: str  # the Redis URL, or the SQLite file path


def parse_store_url(url: str) -> StoreLocation:
    """Check a store URL; a ``ValueError`` says what is wrong with it."""
    if not url.strip():
        raise ValueError("store URL is empty; use sqlite:///path.db or redis://host:port/db")
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("/") else ""
        if parts.netloc or parts.query or parts.fragment or not path or path.endswith("/"):
            raise ValueError(
                f"sqlite store URL must be sqlite:///relative.db or sqlite:////absolute.db, "
                f"got {url!r}"
            )
        return StoreLocation("sqlite", path)
    if parts.scheme in _REDIS_SCHEMES:
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("redis store URL needs a host, like redis://127.0.0.1:6379/0")
        return StoreLocation("redis", url)
    raise ValueError(
        f"unsupported store URL scheme {parts.scheme!r}; use sqlite:///path.db or "
        "redis://host:port/db"
    )


def open_store(url: str, *, redis_prefix: str, overlap_seconds: float) -> SyncStore:
    """The backend ``url`` names; ``redis_prefix`` namespaces its Redis keys."""
    location = parse_store_url(url)
    if location.backend == "sqlite":
        from slack_connect.store.sqlite import SqliteSyncStore

        return SqliteSyncStore(location.target, overlap_seconds)
    from slack_connect.store.redis import RedisSyncStore

    return RedisSyncStore.from_url(location.target, redis_prefix, overlap_seconds)
