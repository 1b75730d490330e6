"""What the client's parts share: the stubs and one way to make a call."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from flowmesh.exceptions import handle_grpc_error
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from flowmesh.client import FlowMesh

T = TypeVar("T")


class _Page(Protocol):
    @property
    def next_page_token(self) -> str: ...


P = TypeVar("P", bound=_Page)


async def every_page(
    fetch: Callable[[str], Awaitable[P]], items: Callable[[P], Sequence[T]]
) -> list[T]:
    """Every item of a paged listing, walked from its first page to its last."""
    out: list[T] = []
    token = ""
    while True:
        page = await fetch(token)
        out.extend(items(page))
        token = page.next_page_token
        if not token:
            return out


DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_BUDGET = 30.0
_MAX_BACKOFF = 1.0


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.health = pb_grpc.HealthServiceStub(channel)
        self.stream = pb_grpc.StreamServiceStub(channel)
        self.queue = pb_grpc.QueueServiceStub(channel)
        self.kv = pb_grpc.KVServiceStub(channel)
        self.schema = pb_grpc.SchemaServiceStub(channel)
        self.replay = pb_grpc.ReplayServiceStub(channel)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): doubling from 50 ms,
    capped at 1 s, jittered."""
    return min(_MAX_BACKOFF, 0.05 * 2 ** min(attempt, 8)) * random.uniform(0.5, 1.5)  # noqa: S311


class Part:
    """Shared plumbing of the client's parts."""

    def __init__(self, client: FlowMesh) -> None:
        self._client = client

    async def _call(
        self,
        rpc: Callable[..., Awaitable[T]],
        request: Any,
        operation: str,
        *,
        idempotent: bool = False,
        extra_timeout: float = 0.0,
        if_gone: Callable[[], T] | None = None,
    ) -> T:
        """One call. An ``idempotent`` one (a read, or a write the server recognises
        when it comes again: producer id and sequence, acks) is retried on
        UNAVAILABLE (a server or store restart) until the client's
        ``retry_budget`` is spent; calls wait for the connection to come back
        (``wait_for_ready``). ``if_gone``: when a retry finds the target gone
        (NOT_FOUND) after an attempt whose outcome is unknown, that attempt was
        applied; return ``if_gone()``."""
        client = self._client
        began = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            timeout = client.timeout
            if attempt > 1:  # a retry waits no longer than the budget left
                timeout = min(timeout, max(0.5, client.retry_budget - (time.monotonic() - began)))
            try:
                return await rpc(
                    request,
                    metadata=client._metadata,
                    timeout=timeout + extra_timeout,
                    wait_for_ready=True,
                )
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if attempt > 1 and if_gone is not None and code == grpc.StatusCode.NOT_FOUND:
                    return if_gone()
                spent = time.monotonic() - began
                if not idempotent or code != grpc.StatusCode.UNAVAILABLE:
                    raise handle_grpc_error(exc, operation) from None
                if spent >= client.retry_budget:
                    raise handle_grpc_error(exc, operation) from None
                await asyncio.sleep(min(backoff(attempt), client.retry_budget - spent))
