"""GlobalSymphony: the process-wide runtime (event loop, pools, limiter, Redis).

Create it once at start-up on the loop that serves requests::

    await GlobalSymphony.create(GlobalSymphonyConfig(redis_url="redis://localhost:6379"))
    symphony = GlobalSymphony.get()
    fut = symphony.pool_user.submit(blocking_call)     # runs with the caller's contextvars

``create`` is idempotent on the same loop; ``shutdown`` stops the trigger
listener, drains the pools and closes the Redis pools. The configuration takes
1.4's options unchanged (``redis_url`` as one URL, a mapping per alias or ``""``
for no Redis, ``redis_enable_key_events``, ``redis_keyevent_flags``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from mimeiapify.symphony_ai.errors import NotInitializedError
from mimeiapify.symphony_ai.executors import BoundedExecutor
from mimeiapify.symphony_ai.redis.redis_client import RedisClient, canonical_alias
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.utils.logger import logger

T = TypeVar("T")


def _default_user_workers() -> int:
    return (os.cpu_count() or 1) * 4


class GlobalSymphonyConfig(BaseSettings):
    """Settings of the runtime; every field can also come from ``SYMPHONY_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="SYMPHONY_", extra="forbid", frozen=True)

    workers_user: int = Field(default_factory=_default_user_workers, ge=1)
    workers_tool: int = Field(default=32, ge=1)
    workers_agent: int = Field(default=16, ge=1)
    max_concurrent: int = Field(default=128, ge=1)
    pool_overflow: Literal["wait", "refuse"] = Field(
        default="wait",
        description="a job finding every worker busy waits in line (1.4) or, with "
        "'refuse', is refused past workers + max_pending",
    )
    max_pending: int | None = Field(
        default=None,
        ge=0,
        description="with pool_overflow='refuse': queued jobs per pool (default 4 x workers)",
    )
    submit_timeout: float = Field(default=30.0, gt=0)

    # kept out of repr(): a URL may carry a password; "" means no Redis (as in 1.4)
    redis_url: str | dict[str, str] = Field(default="redis://localhost:6379", repr=False)
    redis_dbs: dict[str, int] = Field(default_factory=dict)
    redis_max_connections: int = Field(default=64, ge=1)
    redis_socket_timeout: float = Field(default=5.0, gt=0)
    redis_connect_timeout: float = Field(default=2.0, gt=0)
    redis_pool_timeout: float = Field(default=5.0, gt=0)
    key_prefix: str = ""

    redis_enable_key_events: bool = True
    redis_keyevent_flags: str = "Ex"
    enable_expiry_listener: bool = False
    bridge_timeout: float = Field(default=30.0, gt=0)
    enable_metrics: bool = False

    @field_validator("redis_url")
    @classmethod
    def _check_aliases(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(value, dict):
            for alias in value:
                canonical_alias(alias)  # ValueError names the unknown alias
        return value


class GlobalSymphony:
    """The runtime singleton. Build it with :meth:`create`, reach it with :meth:`get`."""

    _instance: ClassVar[GlobalSymphony | None] = None
    _creating: ClassVar[asyncio.Lock | None] = None

    def __init__(self, config: GlobalSymphonyConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        pools = {}
        for kind, workers in (
            ("user", config.workers_user),
            ("tool", config.workers_tool),
            ("agent", config.workers_agent),
        ):
            pools[kind] = BoundedExecutor(
                workers,
                config.max_pending,
                f"symphony-{kind}",
                config.submit_timeout,
                overflow=config.pool_overflow,
                name=f"pool_{kind}",
            )
        self.pool_user = pools["user"]
        self.pool_tool = pools["tool"]
        self.pool_agent = pools["agent"]
        self.limiter = anyio.CapacityLimiter(config.max_concurrent)
        self.expiry_listener: Any = None
        self.metrics: Any = None

    @classmethod
    async def create(
        cls, cfg: GlobalSymphonyConfig | None = None, *, config: GlobalSymphonyConfig | None = None
    ) -> GlobalSymphony:
        """Build the runtime on the running loop; a second call returns the same instance.

        The configuration is ``cfg`` (1.4's name, or positional); ``config=`` too.
        """
        if cfg is not None and config is not None:
            raise TypeError("create(): give cfg or config, not both")
        config = cfg if cfg is not None else config
        loop = asyncio.get_running_loop()
        current = cls._instance
        if current is not None:
            if current.loop is loop:
                if config is not None and config != current.config:
                    logger.warning(
                        "GlobalSymphony already exists; the new configuration is ignored"
                    )
                return current
            if current.loop.is_running():
                raise RuntimeError("GlobalSymphony already runs on another event loop")
            current._close_pools()  # left over from a loop that has ended
            cls._instance = None
        cfg = config if config is not None else GlobalSymphonyConfig()
        KeyFactory.set_namespace(cfg.key_prefix)
        if cfg.redis_url:
            RedisClient.configure(
                cfg.redis_url,
                dbs=cfg.redis_dbs,
                max_connections=cfg.redis_max_connections,
                socket_timeout=cfg.redis_socket_timeout,
                connect_timeout=cfg.redis_connect_timeout,
                pool_timeout=cfg.redis_pool_timeout,
            )
        else:
            RedisClient.reset()
            logger.info("GlobalSymphony runs without Redis (redis_url is empty)")
        instance = cls(cfg, loop)
        cls._instance = instance
        try:
            if cfg.enable_metrics:  # first: clients made from here on report their timings
                from mimeiapify.symphony_ai.metrics import SymphonyMetrics

                instance.metrics = SymphonyMetrics.start(instance)
            if cfg.redis_url and cfg.redis_enable_key_events:
                await _enable_key_events(cfg.redis_keyevent_flags, cfg.redis_connect_timeout)
            if cfg.enable_expiry_listener:
                from mimeiapify.symphony_ai.redis.listeners import ExpirationListener

                listener = ExpirationListener(notify_flags=cfg.redis_keyevent_flags)
                await listener.start()
                instance.expiry_listener = listener
        except BaseException:
            await cls.shutdown()  # nothing half-built is left behind
            raise
        logger.info(
            "GlobalSymphony ready",
            extra={
                "workers_user": cfg.workers_user,
                "workers_tool": cfg.workers_tool,
                "workers_agent": cfg.workers_agent,
                "max_concurrent": cfg.max_concurrent,
            },
        )
        return instance

    @classmethod
    def get(cls) -> GlobalSymphony:
        instance = cls._instance
        if instance is None:
            raise NotInitializedError(
                "GlobalSymphony is not running: call `await GlobalSymphony.create(cfg)` at start-up"
            )
        return instance

    @classmethod
    def is_running(cls) -> bool:
        return cls._instance is not None

    @classmethod
    async def shutdown(cls) -> None:
        """Stop listeners and metrics, finish queued jobs, close Redis pools. Safe to repeat."""
        instance = cls._instance
        if instance is None:
            return
        cls._instance = None
        if instance.expiry_listener is not None:
            await instance.expiry_listener.stop()
        if instance.metrics is not None:
            await instance.metrics.stop()
        # waiting for worker threads must not block the loop
        await asyncio.get_running_loop().run_in_executor(None, instance._close_pools)
        await RedisClient.close()

    def _close_pools(self) -> None:
        for pool in (self.pool_user, self.pool_tool, self.pool_agent):
            pool.shutdown(wait=True, cancel_futures=False)

    async def run_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn`` in anyio's worker threads, at most ``max_concurrent`` at once.

        The call sees the caller's context variables (anyio copies them).
        """
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def redis_for(self, alias: str = "default") -> Redis:
        """The Redis client of an alias on the running loop."""
        return RedisClient.get(alias)

    @property
    def redis(self) -> Redis | None:
        """The ``default`` alias's client, or None without Redis (``redis_url=""``)."""
        return RedisClient.get("default") if RedisClient.is_configured() else None


async def _enable_key_events(flags: str, seconds: float) -> None:
    """Add ``flags`` to ``notify-keyspace-events`` once per Redis server (as 1.4 did at
    start-up). Best effort: a server that is down or forbids CONFIG SET gets a warning."""
    from mimeiapify.symphony_ai.redis.listeners import ensure_expiry_notifications

    settings = RedisClient.settings()
    by_server: dict[tuple[str | None, int | None], str] = {}
    for alias, url in settings.urls.items():
        parts = urlsplit(url)
        by_server.setdefault((parts.hostname, parts.port), alias)
    for (host, port), alias in by_server.items():
        try:
            async with asyncio.timeout(seconds * 2):
                await ensure_expiry_notifications(RedisClient.get(alias), flags)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "could not enable keyspace events on Redis %s:%s (%s); expiration "
                "triggers need notify-keyspace-events with %r",
                host,
                port,
                exc,
                flags,
            )
