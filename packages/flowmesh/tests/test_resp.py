"""The Redis store's pipelined connection against the real Redis: replies in
order, errors as redis-py raises them, SELECT, timeouts and unreachable servers."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from flowmesh.server.store.resp import PipelinedConnection, pack
from mimeia.testing import free_port

pytestmark = pytest.mark.integration


def test_pack_encodes_like_redis_py():
    assert (
        pack(("SET", "k", b"v", 5, 1.5))
        == b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\n5\r\n$3\r\n1.5\r\n"
    )
    with pytest.raises(TypeError, match="bool"):
        pack(("SET", "k", True))


async def test_concurrent_commands_get_their_own_replies(redis_url: str, redis_prefix: str):
    parts = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    conn = PipelinedConnection(parts["host"], parts["port"], db=1)
    key = f"{redis_prefix}resp:"
    try:
        await asyncio.gather(*(conn.execute("SET", f"{key}{i}", b"v%d" % i) for i in range(50)))
        got = await asyncio.gather(*(conn.execute("GET", f"{key}{i}") for i in range(50)))
        assert got == [b"v%d" % i for i in range(50)]
        assert await conn.execute("GET", f"{key}missing") is None
        with pytest.raises(NoScriptError):
            await conn.execute("EVALSHA", "0" * 40, 0)
        with pytest.raises(ResponseError, match="FLOWMESH bad"):
            await conn.execute("EVAL", "return redis.error_reply('FLOWMESH bad')", 0)
        # SELECT 1 happened: the keys are in db 1, not db 0
        other = redis.Redis(host=parts["host"], port=parts["port"], db=1)
        assert other.get(f"{key}7") == b"v7"
        assert redis.Redis(host=parts["host"], port=parts["port"], db=0).get(f"{key}7") is None
        other.delete(*(f"{key}{i}" for i in range(50)))
        other.close()
    finally:
        conn.close()


async def test_unreachable_and_silent_servers_fail_in_time():
    conn = PipelinedConnection("127.0.0.1", free_port(), connect_timeout=1)
    with pytest.raises(RedisConnectionError, match="cannot connect"):
        await conn.execute("PING")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = PipelinedConnection("127.0.0.1", port, timeout=0.4)
    try:
        with pytest.raises(RedisConnectionError, match=r"no reply from redis within 0\.4s"):
            await asyncio.wait_for(conn.execute("PING"), 5)
    finally:
        conn.close()
        server.close()
