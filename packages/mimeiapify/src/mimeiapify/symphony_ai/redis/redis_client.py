"""Redis connection management: one pool per (process, event loop, URL), shared by aliases.

Repositories ask for a client by *alias* (``user``, ``handlers``, ``shared_state``,
``expiry``, ``pubsub``, ``default``); the configuration maps each alias to a
database of one server or to its own URL. Aliases that resolve to the same URL
share one pool.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from mimeiapify.symphony_ai.errors import NotInitializedError

ALIASES: Final = ("default", "user", "handlers", "shared_state", "expiry", "pubsub")
DEFAULT_MAX_CONNECTIONS: Final = 64


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
        """Resolve ``redis_url`` (one URL or alias→URL) plus ``dbs`` (alias→db) for every alias."""
        if isinstance(redis_url, str):
            base = {"default": redis_url}
        elif isinstance(redis_url, Mapping):
            base = dict(redis_url)
        else:
            raise TypeError(
                f"redis_url: expected a URL or a mapping, got {type(redis_url).__name__}"
            )
        for alias, url in base.items():
            if alias not in ALIASES:
                raise ValueError(
                    f"redis_url: unknown alias {alias!r} (known: {', '.join(ALIASES)})"
                )
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"redis_url[{alias}]: not a redis:// URL: {url!r}")
        if "default" not in base:
            raise ValueError("redis_url: a mapping must contain the 'default' alias")
        urls = {alias: base.get(alias, base["default"]) for alias in ALIASES}
        for alias, db in (dbs or {}).items():
            if alias not in ALIASES:
                raise ValueError(f"redis_dbs: unknown alias {alias!r}")
            if not isinstance(db, int) or isinstance(db, bool) or db < 0:
                raise ValueError(f"redis_dbs[{alias}]: expected a database number >= 0, got {db!r}")
            urls[alias] = _with_db(urls[alias], db)
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
    def install(cls, client: Redis, aliases: tuple[str, ...] = ALIASES) -> None:
        """Use a ready-made client (e.g. ``fakeredis.FakeAsyncRedis``) for the given aliases."""
        for alias in aliases:
            if alias not in ALIASES:
                raise ValueError(f"aliases: unknown alias {alias!r}")
            cls._installed[alias] = client

    @classmethod
    def settings(cls) -> RedisSettings:
        if cls._settings is None:
            raise NotInitializedError(
                "Redis is not configured: call `await GlobalSymphony.create(cfg)` "
                "or `RedisClient.configure(url)` first"
            )
        return cls._settings

    @classmethod
    def url(cls, alias: str = "default") -> str:
        return cls.settings().urls[alias]

    @classmethod
    def get(cls, alias: str = "default") -> Redis:
        """The client for ``alias`` in this process, on the running event loop."""
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
    async def close(cls) -> None:
        """Close the pools opened on the running loop and forget installed clients."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        clients = cls._per_loop.pop(loop, {}) if loop is not None else {}
        for client in {id(c): c for c in clients.values()}.values():
            await client.aclose(close_connection_pool=True)
        cls._installed = {}

    @classmethod
    def reset(cls) -> None:
        """Forget configuration and clients (pools on other loops are left to the GC)."""
        cls._settings = None
        cls._installed = {}
        cls._per_loop = weakref.WeakKeyDictionary()
