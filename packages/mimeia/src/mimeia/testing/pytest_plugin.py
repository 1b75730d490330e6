"""Fixtures for tests that talk to the real Redis and PostgreSQL.

A missing server fails the test with one line saying how to start it; it never
turns into a skip. Every run gets its own Redis key prefix and its own
PostgreSQL database (dropped at the end), so parallel runs do not collide.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis

from mimeia import infra
from mimeia.ports import free_port

_HINT = "run `mimeia doctor --start-missing` (or `bash scripts/test.sh`, which does it)"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis (REDIS_URL or redis://127.0.0.1:6379/0); fails if it is down."""
    setting = infra.redis_setting()
    probe = infra.probe_redis(setting.url)
    if not probe.ok:
        pytest.fail(f"Redis at {infra.redact(setting.url)} does not answer ({probe.detail}); "
                    f"{_HINT}", pytrace=False)  # fmt: skip
    return setting.url


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix owned by this test run; every key under it is deleted at the end."""
    prefix = f"test{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run (a plain ``postgresql://`` DSN), dropped after."""
    setting = infra.postgres_setting()
    admin = infra.plain_postgres_dsn(setting.url)
    name = f"mimeia_test_{uuid.uuid4().hex[:12]}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=infra.PROBE_TIMEOUT)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {infra.redact(setting.url)} does not answer "
                    f"({type(exc).__name__}: {exc}); {_HINT}", pytrace=False)  # fmt: skip
    yield urlsplit(admin)._replace(path=f"/{name}").geturl()
    asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    return free_port()
