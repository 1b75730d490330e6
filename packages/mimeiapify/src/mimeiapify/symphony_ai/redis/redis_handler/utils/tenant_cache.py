"""Base class of every repository: tenant scoping, TTL rules and the hash helpers.

A repository is cheap to build (one per request is fine). It holds the tenant's
escaped key root and its TTL default; the Redis client is looked up per call by
the repository's alias, so repositories work in any process and on any loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from redis.asyncio import Redis

from mimeiapify.symphony_ai.errors import InvalidKeyPartError
from mimeiapify.symphony_ai.redis import ops
from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory

_UNSET: Any = object()


def check_ttl(ttl: Any, field: str = "ttl") -> int | None:
    """``None`` (no expiry) or a positive whole number of seconds."""
    if ttl is None:
        return None
    if type(ttl) is not int or ttl <= 0:
        raise InvalidKeyPartError(
            field, f"expected a positive number of seconds or None, got {ttl!r}"
        )
    return ttl


def check_field(name: Any, field: str = "field") -> str:
    if type(name) is not str or not name:
        raise InvalidKeyPartError(field, f"expected a non-empty string, got {name!r}")
    return name


class TenantCache:
    """Tenant-scoped access to Redis with a default TTL and per-call overrides."""

    redis_alias: ClassVar[str] = "default"
    default_ttl: ClassVar[int | None] = None

    __slots__ = ("_client", "_root", "tenant", "ttl_default")

    def __init__(
        self, tenant: str, ttl_default: int | None = _UNSET, *, redis: Redis | None = None
    ) -> None:
        self._root = KeyFactory.tenant(tenant)
        self.tenant = tenant
        self.ttl_default = (
            self.default_ttl if ttl_default is _UNSET else check_ttl(ttl_default, "ttl_default")
        )
        self._client = redis

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tenant={self.tenant!r})"

    @property
    def redis(self) -> Redis:
        """The client for this repository's alias (or the one passed to the constructor)."""
        return self._client if self._client is not None else RedisClient.get(self.redis_alias)

    def _ttl(self, ttl: int | Any | None) -> int | None:
        return self.ttl_default if ttl is _UNSET else check_ttl(ttl)

    # -- key-level helpers -------------------------------------------------------------
    async def _exists(self, key: str) -> bool:
        return bool(await self.redis.exists(key))

    async def _delete(self, key: str) -> bool:
        return bool(await self.redis.unlink(key))

    async def _get_ttl(self, key: str) -> int:
        return await ops.get_ttl(self.redis, key)

    async def _renew_ttl(self, key: str, ttl: int | Any | None = _UNSET) -> bool:
        seconds = self._ttl(ttl)
        if seconds is None:
            return bool(await self.redis.persist(key))
        return await ops.renew_ttl(self.redis, key, seconds)

    async def _scan(self, pattern: str) -> list[str]:
        return [key async for key in ops.scan_keys(self.redis, pattern)]

    async def _delete_pattern(self, pattern: str) -> int:
        return await ops.delete_pattern(self.redis, pattern)

    # -- hash helpers (the core every hash-backed repository maps onto) ------------------
    async def _hash_set(
        self, key: str, data: Mapping[str, Any], ttl: Any = _UNSET, *, replace: bool = False
    ) -> bool:
        encoded = serde.encode_mapping(data)
        await ops.hset_with_ttl(self.redis, key, encoded, self._ttl(ttl), replace=replace)
        return True

    async def _hash_get(
        self, key: str, models: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        raw: dict[str, str] = await self.redis.hgetall(key)  # type: ignore[assignment]
        return serde.decode_mapping(raw, models) if raw else None

    async def _hash_get_field(self, key: str, field: str, model: Any = None) -> Any:
        value = serde.loads(await self.redis.hget(key, check_field(field)))
        return serde.to_model(value, model, field) if model is not None else value

    async def _hash_set_field(self, key: str, field: str, value: Any, ttl: Any = _UNSET) -> bool:
        encoded = {check_field(field): serde.dumps(value)}
        await ops.hset_with_ttl(self.redis, key, encoded, self._ttl(ttl))
        return True

    async def _hash_merge(
        self,
        key: str,
        data: Mapping[str, Any],
        ttl: Any = _UNSET,
        models: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        merged = await ops.hset_and_getall(
            self.redis, key, serde.encode_mapping(data), self._ttl(ttl)
        )
        return serde.decode_mapping(merged, models)

    async def _hash_delete_field(self, key: str, field: str) -> bool:
        return bool(await self.redis.hdel(key, check_field(field)))

    async def _hash_increment(
        self, key: str, field: str, amount: int | float, ttl: Any = _UNSET
    ) -> int | float:
        if type(amount) not in (int, float):
            raise InvalidKeyPartError(
                "amount", f"expected an int or float, got {type(amount).__name__}"
            )
        stored = await ops.hincr(self.redis, key, check_field(field), amount, self._ttl(ttl))
        result: int | float = serde.loads(stored)
        return result

    async def _hash_append(self, key: str, field: str, value: Any, ttl: Any = _UNSET) -> int:
        element = serde.dumps_json(value)
        return await ops.happend(self.redis, key, check_field(field), element, self._ttl(ttl))
