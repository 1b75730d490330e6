"""Redis going away: fail fast with a clear error, recover when it returns, never hang.

These tests start a PRIVATE redis-server on a free port and kill, freeze or
restart that one (never the shared server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis as sync_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mimeia.testing import free_port
from mimeiapify.symphony_ai import GlobalSymphony, GlobalSymphonyConfig, run_sync
from mimeiapify.symphony_ai.redis import RedisSharedState, RedisTrigger, RedisUser
from mimeiapify.symphony_ai.redis.listeners import ExpirationListener


class PrivateRedis:
    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", *self.extra]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if sync_redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except sync_redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server on {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.signal(signal.SIGCONT)
        server.kill()


@pytest.fixture
async def fragile_symphony(
    private_redis: PrivateRedis, symphony_env: str
) -> AsyncIterator[GlobalSymphony]:
    cfg = GlobalSymphonyConfig(
        redis_url=private_redis.url,
        redis_socket_timeout=0.5,
        redis_connect_timeout=0.5,
        redis_pool_timeout=1.0,
        workers_tool=4,
    )
    runtime = await GlobalSymphony.create(cfg)
    try:
        yield runtime
    finally:
        await GlobalSymphony.shutdown()


async def test_server_down_fails_fast_then_recovers(
    private_redis: PrivateRedis, fragile_symphony: GlobalSymphony
) -> None:
    user = RedisUser(tenant="t", user_id="u")
    await user.upsert({"n": 1})
    private_redis.kill()
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await user.get()
    assert time.monotonic() - started < 3

    def tool_in_thread() -> object:
        try:
            return run_sync(RedisSharedState(tenant="t", user_id="u").get("s"), timeout=5)
        except Exception as exc:
            return exc

    outcome = await asyncio.wrap_future(fragile_symphony.pool_tool.submit(tool_in_thread))
    assert isinstance(outcome, RedisConnectionError)  # the thread sees Redis's own error

    private_redis.start()  # same port, empty data (no persistence)
    assert await user.get() is None
    await user.upsert({"n": 2})
    assert await user.get() == {"n": 2}


async def test_frozen_server_times_out_instead_of_hanging(
    private_redis: PrivateRedis, fragile_symphony: GlobalSymphony
) -> None:
    user = RedisUser(tenant="t", user_id="u")
    await user.upsert({"n": 1})
    private_redis.signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        with pytest.raises((RedisTimeoutError, RedisConnectionError)):
            await user.get()
        assert time.monotonic() - started < 5
    finally:
        private_redis.signal(signal.SIGCONT)
    assert await user.get() == {"n": 1}


async def test_restart_mid_run_keeps_serving(
    private_redis: PrivateRedis, fragile_symphony: GlobalSymphony
) -> None:
    user = RedisUser(tenant="t", user_id="u")
    failures = 0
    successes_after_restart = 0
    for round_ in range(3):
        await user.upsert({"round": round_})
        private_redis.kill()
        private_redis.start()
        for _ in range(5):
            try:
                await user.upsert({"after": True})
                successes_after_restart += 1
            except (RedisConnectionError, RedisTimeoutError):
                failures += 1
    assert failures == 0 and successes_after_restart == 15  # stale sockets are retried
    assert await user.get_field("after") is True


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_triggers_fire_even_when_config_set_is_forbidden(symphony_env: str) -> None:
    server = PrivateRedis("--rename-command", "CONFIG", '""', "--notify-keyspace-events", "Ex")
    server.start()
    collect = _Collect()
    logging.getLogger("mimeiapify").addHandler(collect)
    try:
        await GlobalSymphony.create(
            GlobalSymphonyConfig(redis_url=server.url, enable_expiry_listener=True)
        )
        listener: ExpirationListener = GlobalSymphony.get().expiry_listener
        assert listener.notifications_enabled is False
        assert any("cannot enable keyspace notifications" in m for m in collect.messages)
        fired: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

        @listener.on("wake")
        async def wake(tenant: str, identifier: str) -> None:
            await fired.put((tenant, identifier))

        await RedisTrigger(tenant="acme:eu").set("wake", "user 1", ttl_seconds=1)
        await RedisTrigger(tenant="acme").set("other", "x", ttl_seconds=1)  # no handler: ignored
        assert await asyncio.wait_for(fired.get(), 10) == ("acme:eu", "user 1")
    finally:
        logging.getLogger("mimeiapify").removeHandler(collect)
        await GlobalSymphony.shutdown()
        server.kill()


async def test_each_trigger_runs_once_across_listeners(
    redis_url: str, symphony: GlobalSymphony
) -> None:
    calls: list[str] = []
    listeners = [ExpirationListener() for _ in range(3)]
    for listener in listeners:

        async def handler(tenant: str, identifier: str) -> None:
            calls.append(identifier)

        listener.register("ping", handler)
        await listener.start()
    try:
        assert all(listener.notifications_enabled for listener in listeners)
        await RedisTrigger(tenant="once").set("ping", "id-1", ttl_seconds=1)
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert calls == ["id-1"]
    finally:
        for listener in listeners:
            await listener.stop()


async def test_trigger_listener_survives_a_redis_restart(
    private_redis: PrivateRedis, fragile_symphony: GlobalSymphony
) -> None:
    listener = ExpirationListener()
    fired: asyncio.Queue[str] = asyncio.Queue()

    async def handler(tenant: str, identifier: str) -> None:
        await fired.put(identifier)

    listener.register("ping", handler)
    await listener.start()
    try:
        await RedisTrigger(tenant="t").set("ping", "before", ttl_seconds=1)
        assert await asyncio.wait_for(fired.get(), 10) == "before"
        private_redis.kill()
        await asyncio.sleep(0.5)
        private_redis.start()  # a fresh server: no notifications configured, no subscribers
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            numpat = sync_redis.Redis(port=private_redis.port).pubsub_numpat()
            if numpat:
                break
            await asyncio.sleep(0.2)
        await RedisTrigger(tenant="t").set("ping", "after", ttl_seconds=1)
        assert await asyncio.wait_for(fired.get(), 10) == "after"
    finally:
        await listener.stop()


async def test_listener_start_fails_fast_without_redis(symphony_env: str) -> None:
    port = free_port()
    await GlobalSymphony.create(
        GlobalSymphonyConfig(redis_url=f"redis://127.0.0.1:{port}/0", redis_connect_timeout=0.5)
    )
    try:
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await ExpirationListener().start()
        assert time.monotonic() - started < 3
    finally:
        await GlobalSymphony.shutdown()
