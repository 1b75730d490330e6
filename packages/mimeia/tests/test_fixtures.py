import asyncpg
import pytest
import redis

from mimeia.ports import free_port, port_is_open

pytestmark = pytest.mark.integration


def test_redis_prefix_is_unique_and_usable(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set(f"{redis_prefix}probe", "1")
    assert client.get(f"{redis_prefix}probe") == b"1"
    assert redis_prefix.startswith("test") and redis_prefix.endswith(":")


async def test_postgres_url_is_a_fresh_database(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        name = await conn.fetchval("SELECT current_database()")
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
        )
    finally:
        await conn.close()
    assert name.startswith("mimeia_test_")
    assert tables == 0


def test_free_port_is_free() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert not port_is_open("127.0.0.1", port)
