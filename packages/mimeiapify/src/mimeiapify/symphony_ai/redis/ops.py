"""1.4's small Redis helpers: one function per command, on the pool of an alias.

::

    from mimeiapify.symphony_ai.redis import ops

    await ops.set("acme:greeting", "hola", ex=60)
    await ops.hset_with_expire("acme:profile:42", {"name": "Ana"}, ttl=3600, alias="user")

Keys are used as given (build them with :class:`KeyFactory`); values that are
not text or numbers are stored as their ``str()``, as in 1.4. Unlike 1.4, a
Redis failure raises (redis-py's typed errors) instead of being logged and
answered with ``False``/``None``/``0``. The repositories use
:mod:`mimeiapify.symphony_ai.redis.atomic` instead.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from mimeiapify.symphony_ai.redis.redis_client import RedisClient

Scalar = str | bytes | int | float


def _client(alias: str) -> Any:
    # typed loosely: the pools decode responses, so every reply here is text
    return RedisClient.get(alias)


def _plain(value: Any) -> Scalar:
    return value if isinstance(value, str | bytes | int | float) else str(value)


# ---------------------------------------------------------------- strings and keys


async def set(key: str, value: Any, ex: int | None = None, *, alias: str = "default") -> bool:
    return bool(await _client(alias).set(key, _plain(value), ex=ex))


async def setex(key: str, seconds: int, value: Any, *, alias: str = "default") -> bool:
    return bool(await _client(alias).set(key, _plain(value), ex=seconds))


async def get(key: str, *, alias: str = "default") -> str | None:
    value: str | None = await _client(alias).get(key)
    return value


async def exists(*keys: str, alias: str = "default") -> int:
    return int(await _client(alias).exists(*keys)) if keys else 0


async def delete(*keys: str, alias: str = "default") -> int:
    return int(await _client(alias).delete(*keys)) if keys else 0


async def expire(key: str, ttl: int, *, alias: str = "default") -> bool:
    return bool(await _client(alias).expire(key, ttl))


async def get_ttl(key: str, *, alias: str = "default") -> int:
    """Seconds left; -1 without expiry, -2 when the key is missing."""
    return int(await _client(alias).ttl(key))


async def scan_keys(
    match_pattern: str, cursor: str | int = 0, count: int | None = None, *, alias: str = "default"
) -> tuple[str, list[str]]:
    """One SCAN step: ``(next_cursor, keys)``; ``"0"`` means the scan is complete."""
    next_cursor, keys = await _client(alias).scan(
        cursor=int(cursor), match=match_pattern, count=count
    )
    return str(next_cursor), [str(k) for k in keys]


# ---------------------------------------------------------------- hashes


async def hset(
    key: str,
    field: str | None = None,
    value: Any = None,
    mapping: Mapping[str, Any] | None = None,
    *,
    alias: str = "default",
) -> int:
    """Fields added; -1 when neither ``field`` and ``value`` nor ``mapping`` is given."""
    if mapping is None and (field is None or value is None):
        return -1
    pairs = mapping if mapping is not None else {field: value}
    return int(await _client(alias).hset(key, mapping={k: _plain(v) for k, v in pairs.items()}))


async def hget(key: str, field: str, *, alias: str = "default") -> str | None:
    value: str | None = await _client(alias).hget(key, field)
    return value


async def hgetall(key: str, *, alias: str = "default") -> dict[str, str]:
    return dict(await _client(alias).hgetall(key))


async def hexists(key: str, field: str, *, alias: str = "default") -> bool:
    return bool(await _client(alias).hexists(key, field))


async def hdel(key: str, *fields: str, alias: str = "default") -> int:
    return int(await _client(alias).hdel(key, *fields)) if fields else 0


async def hincrby(key: str, field: str, increment: int = 1, *, alias: str = "default") -> int:
    return int(await _client(alias).hincrby(key, field, increment))


async def hset_with_expire(
    key: str, mapping: Mapping[str, Any], ttl: int, *, alias: str = "default"
) -> tuple[int | None, bool]:
    """HSET and EXPIRE in one MULTI: ``(fields added, expiry set)``."""
    pipe = _client(alias).pipeline(transaction=True)
    if mapping:
        pipe.hset(key, mapping={k: _plain(v) for k, v in mapping.items()})
    pipe.expire(key, ttl)
    results = await pipe.execute()
    return (int(results[0]) if mapping else 0), bool(results[-1])


async def hincrby_with_expire(
    key: str, field: str, increment: int, ttl: int, *, alias: str = "default"
) -> tuple[int | None, bool]:
    """HINCRBY and EXPIRE in one MULTI: ``(new value, expiry set)``."""
    pipe = _client(alias).pipeline(transaction=True)
    pipe.hincrby(key, field, increment)
    pipe.expire(key, ttl)
    value, expired = await pipe.execute()
    return int(value), bool(expired)


# ---------------------------------------------------------------- lists and sets


async def rpush(key: str, *values: Any, alias: str = "default") -> int:
    if not values:
        return await llen(key, alias=alias)
    return int(await _client(alias).rpush(key, *(_plain(v) for v in values)))


async def lpop(
    key: str, count: int | None = None, *, alias: str = "default"
) -> str | list[str] | None:
    value: str | list[str] | None = await _client(alias).lpop(key, count)
    return value


async def lrange(key: str, start: int, end: int, *, alias: str = "default") -> list[str]:
    return list(await _client(alias).lrange(key, start, end))


async def ltrim(key: str, start: int, end: int, *, alias: str = "default") -> bool:
    return bool(await _client(alias).ltrim(key, start, end))


async def llen(key: str, *, alias: str = "default") -> int:
    return int(await _client(alias).llen(key))


async def sadd(key: str, *members: Any, alias: str = "default") -> int:
    if not members:
        return 0
    return int(await _client(alias).sadd(key, *(_plain(m) for m in members)))


async def smembers(key: str, *, alias: str = "default") -> builtins.set[str]:
    return {str(m) for m in await _client(alias).smembers(key)}


async def srem(key: str, *members: Any, alias: str = "default") -> int:
    if not members:
        return 0
    return int(await _client(alias).srem(key, *(_plain(m) for m in members)))


async def rpush_and_sadd(
    list_key: str,
    list_values: Sequence[Any],
    set_key: str,
    set_members: Sequence[Any],
    *,
    alias: str = "default",
) -> tuple[int | None, int | None]:
    """RPUSH and SADD in one MULTI; ``(None, None)`` (nothing done) when either is empty."""
    if not list_values or not set_members:
        return None, None
    pipe = _client(alias).pipeline(transaction=True)
    pipe.rpush(list_key, *(_plain(v) for v in list_values))
    pipe.sadd(set_key, *(_plain(m) for m in set_members))
    pushed, added = await pipe.execute()
    return int(pushed), int(added)
