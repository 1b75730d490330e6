"""Fixtures for symphony_ai tests: a running GlobalSymphony on the real Redis.

Every test gets its own key namespace under the run's ``redis_prefix`` (deleted
by the harness at the end), so tests never see each other's keys and never
touch anyone else's. Every alias is kept in the harness's database (1.4's
layout spreads them over databases 7-15; ``test_compat_redis_layout`` covers
that layout with its own clean-up).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

from mimeiapify.symphony_ai import GlobalSymphony, GlobalSymphonyConfig
from mimeiapify.symphony_ai.redis import ALIASES, KeyFactory, RedisClient


def harness_dbs(redis_url: str) -> dict[str, int]:
    """Every alias in the database of the harness's URL (whose keys it cleans up)."""
    db = int(urlsplit(redis_url).path.strip("/") or 0)
    return {alias: db for alias in ALIASES}


@pytest.fixture
def key_prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def symphony_env(key_prefix: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point configs built without arguments (as in the seed examples) at our namespace
    in the harness's database."""
    monkeypatch.setenv("SYMPHONY_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("SYMPHONY_REDIS_DBS", json.dumps(harness_dbs(redis_url)))
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
        RedisClient.configure(redis_url, dbs=harness_dbs(redis_url))
    try:
        yield request.param
    finally:
        await RedisClient.close()
        RedisClient.reset()
