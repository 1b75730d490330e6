"""The guide's request pattern under a burst: 200 concurrent requests, each doing
``await asyncio.wrap_future(GlobalSymphony.get().pool_user.submit(fn))``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from mimeiapify.symphony_ai import ExecutorFullError, GlobalSymphony, GlobalSymphonyConfig


def blocking_call(i: int) -> int:  # e.g. agency.get_completion
    threading.Event().wait(0.02)
    return i


async def burst(n: int = 200) -> list[int | BaseException]:
    async def request(i: int) -> int:
        pool = GlobalSymphony.get().pool_user
        return await asyncio.wrap_future(pool.submit(blocking_call, i))

    return await asyncio.gather(*(request(i) for i in range(n)), return_exceptions=True)


@pytest.fixture
async def stop_symphony() -> AsyncIterator[None]:
    yield
    await GlobalSymphony.shutdown()


async def test_a_burst_waits_for_workers_on_the_default_config(stop_symphony: None) -> None:
    # default pools (user: CPU x 4 workers); no Redis needed for this (redis_url="", as 1.4)
    await GlobalSymphony.create(GlobalSymphonyConfig(redis_url=""))
    assert GlobalSymphony.get().redis is None
    results = await burst(200)
    assert results == list(range(200))  # 200 of 200, in order, none refused


async def test_refusing_is_opt_in_and_names_the_pool_and_its_limit(stop_symphony: None) -> None:
    cfg = GlobalSymphonyConfig(redis_url="", pool_overflow="refuse", workers_user=2, max_pending=3)
    await GlobalSymphony.create(cfg)
    results = await burst(50)
    refused = [r for r in results if isinstance(r, ExecutorFullError)]
    done = [r for r in results if isinstance(r, int)]
    assert len(done) == 5 and len(refused) == 45  # 2 workers + 3 waiting, the rest refused
    assert "pool_user is full" in str(refused[0])
    assert "limit 5 = 2 workers + 3 pending" in str(refused[0])
