"""Redis connection management: one pool per (process, event loop, URL), shared by aliases.

Repositories ask for a client by *alias* (``user``, ``handlers``, ``shared_state``
(1.4's ``symphony_shared_state`` names it too), ``expiry``, ``pubsub``,
``default``). As in 1.4, one URL puts each alias in its own database of that
server: default 15, user 11, handlers 10, shared_state 9, expiry 8, pubsub 7
(``dbs=`` moves any of them); a mapping gives aliases their own URLs. Aliases
that resolve to the same URL share one pool.

Connection cap: ``max_connections`` (64) is per process; when aliases resolve
to several URLs (e.g. different databases), the pools share it evenly, so the
process never holds more than the cap on its event loop. A pool that is
exhausted makes callers wait (up to ``pool_timeout``) instead of failing.

Fork safety: pools are tagged with the process id; a forked child never reuses
its parent's sockets, it builds fresh pools on first use. Loop safety:
``redis.asyncio`` connections belong to the loop that opened them, so pools are
also kept per running loop (weakly, so a finished loop releases its pools).
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from mimeiapify.symphony_ai.errors import NotInitializedError
from mimeiapify.utils.logger import logger

ALIASES: Final = ("default", "user", "handlers", "shared_state", "expiry", "pubsub")
# 1.4's database of each alias when one URL is given
DEFAULT_DBS: Final = {
    "default": 15,
    "user": 11,
    "handlers": 10,
    "shared_state": 9,
    "expiry": 8,
    "pubsub": 7,
}
_OTHER_NAMES: Final = {"symphony_shared_state": "shared_state"}  # 1.4's spelling
POOL_DB_MAPPING: Final = {
    {v: k for k, v in _OTHER_NAMES.items()}.get(alias, alias): db
    for alias, db in DEFAULT_DBS.items()
}  # 1.4's name and spelling of DEFAULT_DBS
DEFAULT_MAX_CONNECTIONS: Final = 64


def canonical_alias(alias: str) -> str:
    """Our name of an alias (``symphony_shared_state`` is ``shared_state``)."""
    name = _OTHER_NAMES.get(alias, alias)
    if name not in ALIASES:
        known = ", ".join((*ALIASES, *_OTHER_NAMES))
        raise ValueError(f"unknown Redis alias {alias!r} (known: {known})")
    return name


def redact(url: str) -> str:
    """The URL without its password (for logs and reprs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _db_of(url: str) -> str:
    return urlsplit(url).path.strip("/")


@dataclass(frozen=True)
class RedisSettings:
    """Where each alias points and the limits every connection obeys."""

    urls: Mapping[str, str]
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    socket_timeout: float = 5.0
    connect_timeout: float = 2.0
    pool_timeout: float = 5.0
    retries: int = 2

    def __repr__(self) -> str:
        urls = {alias: redact(url) for alias, url in self.urls.items()}
        return f"RedisSettings(urls={urls}, max_connections={self.max_connections})"

    @property
    def distinct_urls(self) -> int:
        return len(set(self.urls.values()))

    @property
    def per_pool_max(self) -> int:
        """The process-wide cap shared evenly by the pools (one per distinct URL)."""
        return max(1, self.max_connections // self.distinct_urls)

    @classmethod
    def build(
        cls,
        redis_url: str | Mapping[str, str],
        *,
        dbs: Mapping[str, int] | None = None,
        **limits: float,
    ) -> RedisSettings:
        """Resolve ``redis_url`` plus ``dbs`` (alias→db) into one URL per alias.

        One URL: each alias in its 1.4 database of that server (a database in the
        URL is ignored, as in 1.4). A mapping: the URLs as given; an alias left
        out gets its 1.4 database on the ``default`` server.
        """
        if isinstance(redis_url, str):
            chosen = {canonical_alias(a) for a in (dbs or {}) if a in ALIASES or a in _OTHER_NAMES}
            if chosen != set(ALIASES) and _db_of(redis_url) not in (
                "",
                *map(str, DEFAULT_DBS.values()),
            ):
                logger.warning(
                    "redis_url names database %s; as in 1.4 each alias uses its own "
                    "database (default 15, user 11, ...); set redis_dbs to choose",
                    _db_of(redis_url),
                )
            base = {"default": redis_url}
            derived: tuple[str, ...] = ALIASES
        elif isinstance(redis_url, Mapping):
            base = {}
            for alias, url in redis_url.items():
                try:
                    base[canonical_alias(alias)] = url
                except ValueError as exc:
                    raise ValueError(f"redis_url: {exc}") from None
            if "default" not in base:
                raise ValueError("redis_url: a mapping must contain the 'default' alias")
            derived = tuple(a for a in ALIASES if a not in base)
        else:
            raise TypeError(
                f"redis_url: expected a URL or a mapping, got {type(redis_url).__name__}"
            )
        for alias, url in base.items():
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"redis_url[{alias}]: not a redis:// URL: {url!r}")
        urls = dict(base)
        for alias in derived:
            urls[alias] = _with_db(base["default"], DEFAULT_DBS[alias])
        for alias, db in (dbs or {}).items():
            try:
                name = canonical_alias(alias)
            except ValueError as exc:
                raise ValueError(f"redis_dbs: {exc}") from None
            if not isinstance(db, int) or isinstance(db, bool) or db < 0:
                raise ValueError(f"redis_dbs[{alias}]: expected a database number >= 0, got {db!r}")
            urls[name] = _with_db(urls[name], db)
        return cls(urls=urls, **limits)  # type: ignore[arg-type]


class _TimedPipeline(Pipeline):
    """A pipeline that reports how long each execute() took (metrics enabled only)."""

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        started = time.perf_counter()
        try:
            return await super().execute(raise_on_error)
        finally:
            observer = RedisClient.observer
            if observer is not None:
                observer("PIPELINE", time.perf_counter() - started)


class _TimedRedis(Redis):
    """A client that reports each command's latency (metrics enabled only)."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return await super().execute_command(*args, **options)
        finally:
            observer = RedisClient.observer
            if observer is not None:
                observer(str(args[0]).upper(), time.perf_counter() - started)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return _TimedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )


class RedisClient:
    """Process-wide registry of Redis clients, looked up by alias."""

    observer: ClassVar[Callable[[str, float], None] | None] = None

    _settings: ClassVar[RedisSettings | None] = None
    _installed: ClassVar[dict[str, Redis]] = {}
    _pid: ClassVar[int] = os.getpid()
    _per_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Redis]]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def configure(
        cls,
        redis_url: str | Mapping[str, str],
        *,
        dbs: Mapping[str, int] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        pool_timeout: float = 5.0,
        retries: int = 2,
    ) -> RedisSettings:
        """Point the aliases at Redis. Replaces any earlier configuration (pools are rebuilt)."""
        if max_connections < 1:
            raise ValueError(f"max_connections: must be >= 1, got {max_connections}")
        for name, value in (
            ("socket_timeout", socket_timeout),
            ("connect_timeout", connect_timeout),
            ("pool_timeout", pool_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name}: must be > 0 seconds, got {value}")
        settings = RedisSettings.build(
            redis_url,
            dbs=dbs,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            retries=retries,
        )
        cls._settings = settings
        cls._installed = {}
        cls._per_loop = weakref.WeakKeyDictionary()
        return settings

    @classmethod
    def setup_single_url(cls, base_url: str, *, max_connections: int = 64) -> None:
        """1.4's set-up: every alias in its own database of the server at ``base_url``."""
        cls.configure(base_url, max_connections=max_connections)

    @classmethod
    def setup_multiple_urls(cls, urls: Mapping[str, str], *, max_connections: int = 64) -> None:
        """1.4's set-up with one URL per alias (``symphony_shared_state`` or ``shared_state``)."""
        cls.configure(urls, max_connections=max_connections)

    @classmethod
    def install(cls, client: Redis, aliases: tuple[str, ...] = ALIASES) -> None:
        """Use a ready-made client (e.g. ``fakeredis.FakeAsyncRedis``) for the given aliases."""
        for alias in aliases:
            cls._installed[canonical_alias(alias)] = client

    @classmethod
    def settings(cls) -> RedisSettings:
        if cls._settings is None:
            raise NotInitializedError(
                "Redis is not configured: call `await GlobalSymphony.create(cfg)` "
                "or `RedisClient.configure(url)` first"
            )
        return cls._settings

    @classmethod
    def is_configured(cls) -> bool:
        return cls._settings is not None

    @classmethod
    def url(cls, alias: str = "default") -> str:
        return cls.settings().urls[canonical_alias(alias)]

    @classmethod
    def get(cls, alias: str = "default") -> Redis:
        """The client for ``alias`` in this process, on the running event loop.

        1.4 code awaits it (``await RedisClient.get("user")``); a client is awaitable
        and gives itself back, so both spellings work.
        """
        alias = canonical_alias(alias)
        installed = cls._installed.get(alias)
        if installed is not None:
            return installed
        if cls._pid != os.getpid():
            cls._after_fork()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "Redis repositories are async: await them on an event loop "
                "(from a worker thread, use run_sync(coro))"
            ) from None
        clients = cls._per_loop.get(loop)
        if clients is None:
            clients = cls._per_loop[loop] = {}
        client = clients.get(alias)
        if client is None:
            client = clients[alias] = cls._client_for(cls.url(alias), clients)
        return client

    @classmethod
    def _client_for(cls, url: str, existing: dict[str, Redis]) -> Redis:
        # aliases that resolve to the same URL share one pool (and one connection cap)
        for alias, client in existing.items():
            if cls.url(alias) == url:
                return client
        s = cls.settings()
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=s.per_pool_max,
            timeout=s.pool_timeout,
            socket_timeout=s.socket_timeout,
            socket_connect_timeout=s.connect_timeout,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), s.retries),
            # only connection errors: a timed-out command may have run, and
            # repeating an increment or an append would apply it twice
            retry_on_error=[RedisConnectionError],
        )
        client_class = _TimedRedis if cls.observer is not None else Redis
        return client_class(connection_pool=pool)

    @classmethod
    def _after_fork(cls) -> None:
        # the parent's sockets are not ours: forget them without closing
        cls._pid = os.getpid()
        cls._per_loop = weakref.WeakKeyDictionary()

    @classmethod
    @asynccontextmanager
    async def connection(cls, alias: str = "default") -> AsyncIterator[Redis]:
        """1.4's ``async with RedisClient.connection("handlers") as r:`` (the pool
        lends and takes back connections per command; nothing to release here)."""
        yield cls.get(alias)

    @classmethod
    async def close(cls, alias: str | None = None) -> None:
        """Close the pools opened on the running loop (only ``alias``'s when given; a
        pool other aliases share stays open) and forget installed clients."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        clients = cls._per_loop.get(loop, {}) if loop is not None else {}
        if alias is not None:
            name = canonical_alias(alias)
            client = clients.pop(name, None)
            cls._installed.pop(name, None)
            if client is not None and all(c is not client for c in clients.values()):
                await client.aclose(close_connection_pool=True)
            return
        if loop is not None:
            cls._per_loop.pop(loop, None)
        for client in {id(c): c for c in clients.values()}.values():
            await client.aclose(close_connection_pool=True)
        cls._installed = {}

    @classmethod
    def reset(cls) -> None:
        """Forget configuration and clients (pools on other loops are left to the GC)."""
        cls._settings = None
        cls._installed = {}
        cls._per_loop = weakref.WeakKeyDictionary()
