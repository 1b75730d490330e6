"""Fixtures for symphony_ai tests: a running GlobalSymphony on the real Redis.

Every test gets its own key namespace under the run's ``redis_prefix`` (deleted
by the harness at the end), so tests never see each other's keys and never
touch anyone else's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from mimeiapify.symphony_ai import GlobalSymphony, GlobalSymphonyConfig
from mimeiapify.symphony_ai.redis import KeyFactory, RedisClient


@pytest.fixture
def key_prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def symphony_env(key_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point configs built without arguments (as in the seed examples) at our namespace."""
    monkeypatch.setenv("SYMPHONY_KEY_PREFIX", key_prefix)
    yield key_prefix
    KeyFactory.set_namespace("")
    RedisClient.reset()


@pytest.fixture
async def symphony(redis_url: str, symphony_env: str) -> AsyncIterator[GlobalSymphony]:
    runtime = await GlobalSymphony.create(
        GlobalSymphonyConfig(redis_url=redis_url, workers_user=8, workers_tool=8, workers_agent=4)
    )
    try:
        yield runtime
    finally:
        await GlobalSymphony.shutdown()


@pytest.fixture(params=["fakeredis", "real-redis"])
async def backend(
    request: pytest.FixtureRequest, redis_url: str, symphony_env: str
) -> AsyncIterator[str]:
    """Run a repository test twice: on fakeredis and on the real Redis."""
    import fakeredis

    KeyFactory.set_namespace(symphony_env)
    if request.param == "fakeredis":
        RedisClient.configure("redis://fakeredis.invalid:6379/0")
        RedisClient.install(fakeredis.FakeAsyncRedis(decode_responses=True, max_connections=1000))
    else:
        RedisClient.configure(redis_url)
    try:
        yield request.param
    finally:
        await RedisClient.close()
        RedisClient.reset()
