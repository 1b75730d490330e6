"""One pipelined Redis connection for the store's hot path (scripts and GET).

Every command is written at once and its reply matched in order, so
concurrent RPCs share the socket and its round trips without waiting for one
another. It is an :class:`asyncio.Protocol` fed straight into hiredis, which
costs a fraction of a pooled redis-py call per command. Everything else
(pub/sub, MULTI blocks, loading scripts) stays on redis-py.

Replies come back as redis-py gives them with ``decode_responses=False``;
error replies raise redis-py's exceptions, so callers handle both alike.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Pending = tuple[asyncio.Future[Any], float]


class _ReplyError(Exception):
    """What hiredis returns (not raises) for an error reply."""


def pack(args: tuple[Any, ...]) -> bytes:
    """A command in RESP, arguments encoded as redis-py encodes them."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            raise TypeError(f"redis argument of type {type(arg).__name__}")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _error(message: str) -> ResponseError:
    return NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)


class _Protocol(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self._reader = hiredis.Reader(replyError=_ReplyError)
        self._waiting: collections.deque[Pending] = collections.deque()
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            reply = self._reader.gets()
            if reply is False:
                return
            fut, _ = self._waiting.popleft()
            if fut.done():  # the caller gave up; the reply still had to be read
                continue
            if isinstance(reply, _ReplyError):
                fut.set_exception(_error(str(reply)))
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:  # else the watchdog's timeout says why
            self.lost = exc or RedisConnectionError("connection closed by the server")
        if self._watchdog is not None:
            self._watchdog.cancel()
        while self._waiting:
            fut, _ = self._waiting.popleft()
            if not fut.done():
                fut.set_exception(RedisConnectionError(f"redis connection lost: {self.lost}"))

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.lost is not None or self._transport is None:
            raise RedisConnectionError("redis connection is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((fut, time.monotonic()))
        self._transport.write(packed)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._timeout / 4, self._watch)
        return fut

    def _watch(self) -> None:
        """Drop the connection when the oldest reply is overdue (a hung server or network)."""
        self._watchdog = None
        if not self._waiting:
            return
        if time.monotonic() - self._waiting[0][1] > self._timeout:
            self.lost = RedisTimeoutError(f"no reply from redis within {self._timeout:g}s")
            if self._transport is not None:
                self._transport.abort()
            return
        self._watchdog = asyncio.get_running_loop().call_later(self._timeout / 4, self._watch)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class PipelinedConnection:
    """Connects on first use and again after a loss; a lost connection fails
    the commands then in flight with ``redis.exceptions.ConnectionError``."""

    def __init__(
        self,
        host: str,
        port: int,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        self._address = (host, port)
        self._setup: list[tuple[Any, ...]] = []
        if password:
            self._setup.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self._setup.append(("SELECT", db))
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None

    async def execute(self, *args: Any) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        return await protocol.send(pack(args))

    async def execute_all(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Commands written back to back on this one connection (so a WAIT after a
        write covers that write); their replies in order. Raises the first error."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        futures = [protocol.send(pack(command)) for command in commands]
        replies = await asyncio.gather(*futures, return_exceptions=True)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return list(replies)

    async def _connect(self) -> _Protocol:
        # Callers arriving while a connect is under way wait for that one.
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._open())
        task = self._connecting
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._connecting is task:
                self._connecting = None

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        timeout = self._timeout
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(timeout), *self._address),
                self._connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(
                f"cannot connect to redis at {self._address}: {exc!r}"
            ) from exc
        try:
            for command in self._setup:
                await protocol.send(pack(command))
        except BaseException:
            protocol.close()
            raise
        self._protocol = protocol
        return protocol

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None
