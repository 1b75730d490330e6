"""What the client's parts share: the stubs and one way to make a call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from flowmesh.exceptions import handle_grpc_error
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from flowmesh.client import FlowMesh

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
READ_RETRIES = 3


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.health = pb_grpc.HealthServiceStub(channel)
        self.stream = pb_grpc.StreamServiceStub(channel)
        self.queue = pb_grpc.QueueServiceStub(channel)
        self.kv = pb_grpc.KVServiceStub(channel)
        self.schema = pb_grpc.SchemaServiceStub(channel)
        self.replay = pb_grpc.ReplayServiceStub(channel)


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
    ) -> T:
        attempts = READ_RETRIES if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return await rpc(
                    request,
                    metadata=self._client._metadata,
                    timeout=self._client.timeout + extra_timeout,
                    wait_for_ready=True,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts:
                    raise handle_grpc_error(exc, operation) from None
                await asyncio.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
        raise AssertionError("unreachable")
