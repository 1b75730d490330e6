"""GlobalSymphony, its pools, the bounded executor, the sync bridge and Redis aliases."""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from pydantic import ValidationError

from mimeiapify.symphony_ai import (
    BoundedExecutor,
    BridgeError,
    ContextThreadPoolExecutor,
    ExecutorFullError,
    GlobalSymphony,
    GlobalSymphonyConfig,
    NotInitializedError,
    run_sync,
)
from mimeiapify.symphony_ai.redis import RedisClient, RedisUser

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


async def test_get_before_create_fails_clearly() -> None:
    await GlobalSymphony.shutdown()
    with pytest.raises(NotInitializedError, match=r"GlobalSymphony\.create"):
        GlobalSymphony.get()


async def test_create_is_idempotent_and_holds_everything(symphony: GlobalSymphony) -> None:
    again = await GlobalSymphony.create(GlobalSymphonyConfig(workers_tool=3))
    assert again is symphony is GlobalSymphony.get()
    assert symphony.loop is asyncio.get_running_loop()
    assert symphony.limiter.total_tokens == 128
    assert symphony.pool_user._max_workers == 8
    assert await symphony.redis.ping() is True
    assert symphony.redis_for("user") is symphony.redis  # same URL -> one shared pool
    assert symphony.redis.connection_pool.max_connections == 64
    await GlobalSymphony.shutdown()
    await GlobalSymphony.shutdown()  # repeat is harmless
    assert not GlobalSymphony.is_running()


def test_config_defaults_and_validation() -> None:
    import os

    cfg = GlobalSymphonyConfig()
    assert cfg.workers_user == (os.cpu_count() or 1) * 4
    assert (cfg.workers_tool, cfg.workers_agent, cfg.max_concurrent) == (32, 16, 128)
    with pytest.raises(ValidationError, match="workers_tool"):
        GlobalSymphonyConfig(workers_tool=0)
    with pytest.raises(ValidationError, match="unknown Redis alias 'users'"):
        GlobalSymphonyConfig(redis_url={"default": "redis://x/0", "users": "redis://y/0"})
    with pytest.raises(ValueError, match="not a redis:// URL"):
        RedisClient.configure({"default": "http://x"})
    with pytest.raises(ValueError, match=r"redis_dbs\[user\]"):
        RedisClient.configure("redis://x/0", dbs={"user": -1})


async def test_pools_carry_the_submitters_context(symphony: GlobalSymphony) -> None:
    def read() -> str:
        return request_id.get("unset")

    async def one_request(i: int) -> tuple[str, str]:
        request_id.set(f"req-{i}")
        ours = await asyncio.wrap_future(symphony.pool_user.submit(read))
        plain = await asyncio.wrap_future(plain_pool.submit(read))
        return ours, plain

    with ThreadPoolExecutor(2) as plain_pool:
        results = await asyncio.gather(*(one_request(i) for i in range(40)))
    assert [ours for ours, _ in results] == [f"req-{i}" for i in range(40)]
    assert {plain for _, plain in results} == {"unset"}  # why the pools copy the context


async def test_bounded_executor_pushes_back() -> None:
    gate = threading.Event()
    pool = BoundedExecutor(max_workers=1, max_pending=1, submit_timeout=0.2)
    try:
        first = pool.submit(gate.wait)
        second = pool.submit(gate.wait)
        assert pool.in_flight() == 2
        with pytest.raises(ExecutorFullError, match="full"):
            pool.submit(gate.wait)  # on the loop thread: refuses at once, never blocks
        started = time.monotonic()
        with pytest.raises(ExecutorFullError):
            await asyncio.to_thread(pool.submit, gate.wait)  # other threads wait, then give up
        assert 0.15 < time.monotonic() - started < 2
        with pytest.raises(ExecutorFullError, match="no free slot"):
            await pool.run(time.sleep, 0, wait=0.05)
        waiting = asyncio.ensure_future(pool.run(lambda: "ran"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        gate.set()
        assert await asyncio.wait_for(waiting, 5) == "ran"
        first.result(5)
        second.result(5)
        assert pool.in_flight() == 0
    finally:
        gate.set()
        pool.shutdown(wait=True)
    with pytest.raises(ValueError, match="max_workers"):
        BoundedExecutor(0)


def test_context_pool_is_a_thread_pool() -> None:
    with ContextThreadPoolExecutor(1) as pool:
        request_id.set("sync-caller")
        assert pool.submit(request_id.get).result(5) == "sync-caller"
        assert pool.queue_length() == 0


async def test_bridge_returns_raises_times_out_and_refuses_loop_thread(
    symphony: GlobalSymphony,
) -> None:
    cancelled = asyncio.Event()

    async def value() -> int:
        return 42

    async def boom() -> None:
        raise KeyError("inside")

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def own_timeout() -> None:
        raise TimeoutError("the coroutine's own")

    def in_thread() -> list[object]:
        out: list[object] = [run_sync(value())]
        for coro, timeout in ((boom(), 5.0), (slow(), 0.1), (own_timeout(), 5.0)):
            try:
                run_sync(coro, timeout=timeout)
            except Exception as exc:
                out.append(exc)
        return out

    result, key_error, timed_out, own = await asyncio.wrap_future(
        symphony.pool_tool.submit(in_thread)
    )
    assert result == 42
    assert isinstance(key_error, KeyError) and "inside" in str(key_error)
    assert isinstance(timed_out, TimeoutError) and "within 0.1" in str(timed_out)
    assert isinstance(own, TimeoutError) and "own" in str(own)
    await asyncio.wait_for(cancelled.wait(), 2)

    with pytest.raises(BridgeError, match="deadlock"):
        run_sync(value())  # on the loop thread itself
    with pytest.raises(TypeError, match="coroutine"):
        run_sync(value)  # type: ignore[arg-type]


def test_bridge_refuses_a_stopped_loop() -> None:
    loop = asyncio.new_event_loop()

    async def value() -> int:
        return 1

    try:
        with pytest.raises(BridgeError, match="not running"):
            run_sync(value(), loop=loop)
    finally:
        loop.close()


async def test_aliases_map_to_databases(redis_url: str, symphony_env: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    dbs = {"default": 0, "handlers": 0, "expiry": 0, "pubsub": 0, "user": 3, "shared_state": 4}
    cfg = GlobalSymphonyConfig(redis_url=f"{base}/0", redis_dbs=dbs)
    runtime = await GlobalSymphony.create(cfg)
    tenant = f"alias-{uuid.uuid4().hex[:6]}"
    direct = redis.Redis.from_url(f"{base}/3", decode_responses=True)
    try:
        user = RedisUser(tenant=tenant, user_id="u")
        await user.upsert({"a": 1})
        assert RedisClient.url("user").endswith("/3")
        assert RedisClient.url("default").endswith("/0")
        key = user.key()
        assert direct.hget(key, "a") == " 1"
        assert await runtime.redis.exists(key) == 0  # not in the default database
        assert runtime.redis_for("user") is not runtime.redis
        # three distinct URLs share the per-process cap of 64
        assert runtime.redis_for("user").connection_pool.max_connections == 21
        assert runtime.redis_for("handlers") is runtime.redis
    finally:
        direct.delete(user.key())
        direct.close()
        await GlobalSymphony.shutdown()


async def test_connection_cap_queues_instead_of_opening_more(
    redis_url: str, symphony_env: str
) -> None:
    await GlobalSymphony.create(GlobalSymphonyConfig(redis_url=redis_url, redis_max_connections=3))
    try:
        users = [RedisUser(tenant="cap", user_id=f"u{i}") for i in range(60)]
        await asyncio.gather(*(u.upsert({"n": i}) for i, u in enumerate(users)))
        pool = RedisClient.get("user").connection_pool
        opened = len(pool._available_connections) + len(pool._in_use_connections)  # type: ignore[attr-defined]
        assert 1 <= opened <= 3
        assert [await u.get_field("n") for u in users[:3]] == [0, 1, 2]
    finally:
        await GlobalSymphony.shutdown()


def _child(url: str, prefix: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import os

    from mimeiapify.symphony_ai.redis import KeyFactory

    async def work() -> tuple[bool, int]:
        KeyFactory.set_namespace(prefix)
        await RedisUser(tenant="fork", user_id=str(os.getpid())).upsert({"child": True})
        return RedisClient._pid == os.getpid(), os.getpid()

    queue.put(asyncio.run(work()))


async def test_forked_child_builds_its_own_pools(
    redis_url: str, symphony: GlobalSymphony, symphony_env: str
) -> None:
    await RedisUser(tenant="fork", user_id="parent").upsert({"parent": True})
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(redis_url, symphony_env, queue))
    proc.start()
    own_pid, child_pid = await asyncio.to_thread(queue.get, True, 20)
    await asyncio.to_thread(proc.join, 20)
    assert proc.exitcode == 0 and own_pid is True
    assert await RedisUser(tenant="fork", user_id=str(child_pid)).get() == {"child": True}
    assert await RedisUser(tenant="fork", user_id="parent").get() == {"parent": True}


async def test_run_in_thread_respects_the_limiter_and_context(symphony: GlobalSymphony) -> None:
    symphony.limiter.total_tokens = 2
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return request_id.get("unset")

    request_id.set("limited")
    results = await asyncio.gather(*(symphony.run_in_thread(work) for _ in range(10)))
    assert results == ["limited"] * 10
    assert peak <= 2


async def test_failed_start_leaves_nothing_behind(symphony_env: str) -> None:
    from mimeia.testing import free_port

    cfg = GlobalSymphonyConfig(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        enable_expiry_listener=True,
        redis_connect_timeout=0.5,
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        await GlobalSymphony.create(cfg)
    assert not GlobalSymphony.is_running()


def test_config_repr_hides_the_redis_url() -> None:
    cfg = GlobalSymphonyConfig(redis_url="redis://:hunter2@cache:6379/0")
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg)
