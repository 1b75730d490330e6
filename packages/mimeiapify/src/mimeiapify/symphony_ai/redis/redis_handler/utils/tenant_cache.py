"""Base class of every repository: tenant scoping, TTL rules and the hash helpers.

A repository is cheap to build (one per request is fine). It holds the tenant,
its TTL default (86,400 s, as in 1.4), the Redis alias it works on and a
:class:`KeyFactory`; the Redis client is looked up per call by the alias, so
repositories work in any process and on any loop.

TTL rules, the same on every write: ``ttl=None`` (or 0, as in 1.4) means the
repository's ``ttl_default``; a positive number of seconds overrides it;
:data:`NO_EXPIRY` stores without expiry (also accepted as ``ttl_default``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from redis.asyncio import Redis

from mimeiapify.symphony_ai.errors import InvalidKeyPartError
from mimeiapify.symphony_ai.redis import atomic
from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import DEFAULT_KEYS, KeyFactory

DEFAULT_TTL: Final = 86_400


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_EXPIRY: Final[Any] = _Marker("NO_EXPIRY")
# internal: leave the key's current expiry as it is (1.4's RedisStateHandler.update_field)
KEEP_TTL: Final[Any] = _Marker("KEEP_TTL")


def check_ttl(ttl: Any, field: str = "ttl") -> int:
    """A positive whole number of seconds."""
    if type(ttl) is not int or ttl <= 0:
        raise InvalidKeyPartError(
            field, f"expected a positive number of seconds, None or NO_EXPIRY, got {ttl!r}"
        )
    return ttl


def check_field(name: Any, field: str = "field") -> str:
    if type(name) is not str or not name:
        raise InvalidKeyPartError(field, f"expected a non-empty string, got {name!r}")
    return name


class TenantCache:
    """Tenant-scoped access to Redis with a default TTL and per-call overrides.

    Built as in 1.4, by keyword (``RedisUser(tenant="acme", user_id="u1",
    ttl_default=3600)``), or positionally. ``redis_alias`` picks another pool for
    this instance, ``keys`` another :class:`KeyFactory`, ``redis`` a ready client.
    """

    default_alias: ClassVar[str] = "default"

    def __init__(
        self,
        tenant: str,
        ttl_default: int | None = None,
        *,
        redis_alias: str | None = None,
        keys: KeyFactory | None = None,
        redis: Redis | None = None,
    ) -> None:
        self.keys = keys if keys is not None else DEFAULT_KEYS
        self._root = self.keys.tenant_root(tenant)  # validates the tenant
        self.tenant = tenant
        self.ttl_default: Any
        if ttl_default is NO_EXPIRY:
            self.ttl_default = NO_EXPIRY
        elif ttl_default is None or (type(ttl_default) is int and ttl_default == 0):
            self.ttl_default = DEFAULT_TTL
        else:
            self.ttl_default = check_ttl(ttl_default, "ttl_default")
        self.redis_alias = redis_alias if redis_alias is not None else self.default_alias
        self._client = redis

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tenant={self.tenant!r})"

    @property
    def redis(self) -> Redis:
        """The client for this repository's alias (or the one passed to the constructor)."""
        return self._client if self._client is not None else RedisClient.get(self.redis_alias)

    def _client_for(self, alias: str | None) -> Redis:
        if alias is None or alias == self.redis_alias:
            return self.redis
        return RedisClient.get(alias)

    def _ttl(self, ttl: Any) -> int | None:
        """Seconds to expire after, or None for no expiry (KEEP_TTL passes through)."""
        if ttl is KEEP_TTL:
            return KEEP_TTL
        if ttl is None or (type(ttl) is int and ttl == 0):
            ttl = self.ttl_default
        if ttl is NO_EXPIRY:
            return None
        return check_ttl(ttl)

    def _own(self, key: Any) -> str:
        """``key`` if it is one of this tenant's keys; tenants never reach each other's."""
        if not isinstance(key, str) or not key.startswith(self._root):
            raise InvalidKeyPartError("key", f"not a key of tenant {self.tenant!r}: {key!r}")
        return key

    # -- 1.4's key-level helpers (full keys, e.g. ``repo.get_ttl(repo.key(...))``) --------
    async def key_exists(self, key: str, *, alias: str | None = None) -> bool:
        return bool(await self._client_for(alias).exists(self._own(key)))

    async def renew_ttl(self, key: str, ttl: Any = None, *, alias: str | None = None) -> bool:
        """Restart the key's expiry (``ttl=None``: the default); False if it is missing."""
        client, seconds = self._client_for(alias), self._ttl(ttl)
        if seconds is None:
            return bool(await client.persist(self._own(key)))
        return await atomic.renew_ttl(client, self._own(key), seconds)

    async def get_ttl(self, key: str, *, alias: str | None = None) -> int:
        """Seconds left; -1 when the key has no expiry, -2 when it is missing."""
        return await atomic.get_ttl(self._client_for(alias), self._own(key))

    async def delete_key(self, key: str, *, alias: str | None = None) -> int:
        return int(await self._client_for(alias).unlink(self._own(key)))

    # -- key-level helpers -------------------------------------------------------------
    async def _exists(self, key: str) -> bool:
        return bool(await self.redis.exists(key))

    async def _delete(self, key: str) -> int:
        return int(await self.redis.unlink(key))

    async def _scan(self, pattern: str) -> list[str]:
        return [key async for key in atomic.scan_keys(self.redis, pattern)]

    async def _delete_pattern(self, pattern: str) -> int:
        return await atomic.delete_pattern(self.redis, pattern)

    # -- hash helpers (the core every hash-backed repository maps onto) ------------------
    async def _hash_set(
        self, key: str, data: Mapping[str, Any], ttl: Any = None, *, replace: bool = False
    ) -> bool:
        encoded = serde.encode_mapping(data)
        await atomic.hset_with_ttl(self.redis, key, encoded, self._ttl(ttl), replace=replace)
        return True

    async def _hash_get(
        self, key: str, models: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        raw: dict[str, str] = await self.redis.hgetall(key)  # type: ignore[assignment]
        return serde.decode_mapping(raw, models) if raw else None

    async def _hash_get_field(self, key: str, field: str, model: Any = None) -> Any:
        return serde.loads(await self.redis.hget(key, check_field(field)), model)

    async def _hash_set_field(self, key: str, field: str, value: Any, ttl: Any = None) -> bool:
        encoded = {check_field(field): serde.dumps(value)}
        seconds = self._ttl(ttl)
        if seconds is KEEP_TTL:
            await self.redis.hset(key, mapping=encoded)  # type: ignore[arg-type]
        else:
            await atomic.hset_with_ttl(self.redis, key, encoded, seconds)
        return True

    async def _hash_merge(
        self,
        key: str,
        data: Mapping[str, Any],
        ttl: Any = None,
        models: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        merged = await atomic.hset_and_getall(
            self.redis, key, serde.encode_mapping(data), self._ttl(ttl)
        )
        return serde.decode_mapping(merged, models)

    async def _hash_delete_field(self, key: str, field: str) -> int:
        return int(await self.redis.hdel(key, check_field(field)))

    async def _hash_increment(
        self, key: str, field: str, amount: int | float, ttl: Any = None
    ) -> int | float:
        if type(amount) not in (int, float):
            raise InvalidKeyPartError(
                "increment", f"expected an int or float, got {type(amount).__name__}"
            )
        stored = await atomic.hincr(self.redis, key, check_field(field), amount, self._ttl(ttl))
        result: int | float = serde.loads(stored)
        return result

    async def _hash_append(self, key: str, field: str, value: Any, ttl: Any = None) -> int:
        element = serde.dumps_json(value)
        return await atomic.happend(self.redis, key, check_field(field), element, self._ttl(ttl))

    async def _find_all(
        self,
        pattern: str,
        field: str,
        value: Any,
        models: Mapping[str, Any] | None = None,
        *,
        first: bool = False,
    ) -> list[dict[str, Any]]:
        """Hashes matching ``pattern`` whose ``field`` holds ``value`` (in our encoding
        or 1.4's), read with pipelined HGETs in chunks."""
        wanted = serde.stored_forms(value)
        check_field(field)
        client = self.redis
        keys = sorted(await self._scan(pattern))
        matches: list[dict[str, Any]] = []
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.hget(key, field)
            stored = await pipe.execute()
            for key, raw in zip(chunk, stored, strict=True):
                if raw in wanted:
                    record = await self._hash_get(key, models)
                    if record is not None:
                        matches.append(record)
                        if first:
                            return matches
        return matches
