"""GlobalSymphony: the process-wide runtime (event loop, pools, limiter, Redis).

Create it once at start-up on the loop that serves requests::

    await GlobalSymphony.create(GlobalSymphonyConfig(redis_url="redis://localhost:6379/0"))
    symphony = GlobalSymphony.get()
    fut = symphony.pool_user.submit(blocking_call)     # runs with the caller's contextvars

``create`` is idempotent on the same loop; ``shutdown`` stops the trigger
listener, drains the pools and closes the Redis pools.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import anyio
import anyio.to_thread
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from mimeiapify.symphony_ai.errors import NotInitializedError
from mimeiapify.symphony_ai.executors import BoundedExecutor
from mimeiapify.symphony_ai.redis.redis_client import ALIASES, RedisClient
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
    max_pending: int | None = Field(
        default=None, ge=0, description="queued jobs per pool (default 4 x workers)"
    )
    submit_timeout: float = Field(default=30.0, gt=0)

    # kept out of repr(): a URL may carry a password
    redis_url: str | dict[str, str] = Field(default="redis://localhost:6379/0", repr=False)
    redis_dbs: dict[str, int] = Field(default_factory=dict)
    redis_max_connections: int = Field(default=64, ge=1)
    redis_socket_timeout: float = Field(default=5.0, gt=0)
    redis_connect_timeout: float = Field(default=2.0, gt=0)
    redis_pool_timeout: float = Field(default=5.0, gt=0)
    key_prefix: str = ""

    enable_expiry_listener: bool = False
    keyspace_notifications: str = "Ex"
    bridge_timeout: float = Field(default=30.0, gt=0)
    enable_metrics: bool = False

    @field_validator("redis_url")
    @classmethod
    def _check_aliases(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(value, dict):
            unknown = set(value) - set(ALIASES)
            if unknown:
                raise ValueError(f"unknown alias(es) {sorted(unknown)}; known: {list(ALIASES)}")
        return value


class GlobalSymphony:
    """The runtime singleton. Build it with :meth:`create`, reach it with :meth:`get`."""

    _instance: ClassVar[GlobalSymphony | None] = None
    _creating: ClassVar[asyncio.Lock | None] = None

    def __init__(self, config: GlobalSymphonyConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        pending = config.max_pending
        self.pool_user = BoundedExecutor(
            config.workers_user, pending, "symphony-user", config.submit_timeout
        )
        self.pool_tool = BoundedExecutor(
            config.workers_tool, pending, "symphony-tool", config.submit_timeout
        )
        self.pool_agent = BoundedExecutor(
            config.workers_agent, pending, "symphony-agent", config.submit_timeout
        )
        self.limiter = anyio.CapacityLimiter(config.max_concurrent)
        self.expiry_listener: Any = None
        self.metrics: Any = None

    @classmethod
    async def create(cls, config: GlobalSymphonyConfig | None = None) -> GlobalSymphony:
        """Build the runtime on the running loop; a second call returns the same instance."""
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
        RedisClient.configure(
            cfg.redis_url,
            dbs=cfg.redis_dbs,
            max_connections=cfg.redis_max_connections,
            socket_timeout=cfg.redis_socket_timeout,
            connect_timeout=cfg.redis_connect_timeout,
            pool_timeout=cfg.redis_pool_timeout,
        )
        instance = cls(cfg, loop)
        cls._instance = instance
        try:
            if cfg.enable_metrics:
                from mimeiapify.symphony_ai.metrics import SymphonyMetrics

                instance.metrics = SymphonyMetrics.start(instance)
            if cfg.enable_expiry_listener:
                from mimeiapify.symphony_ai.redis.listeners import ExpirationListener

                listener = ExpirationListener(notify_flags=cfg.keyspace_notifications)
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
    def redis(self) -> Redis:
        return RedisClient.get("default")
