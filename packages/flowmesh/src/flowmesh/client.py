"""The async client: ``FlowMesh`` with its ``stream``, ``queue``, ``kv``,
``schemas`` and ``replay`` parts.

One gRPC channel (grpc.aio) per client, speaking flowmesh.v1. gRPC re-dials a
dropped connection by itself; calls wait for it (``wait_for_ready``) up to
their timeout. Through a server or store restart the client retries for up to
``retry_budget`` seconds (default 30): reads, and writes made idempotent by a
producer id (one per client) and a sequence number per write batch and per
enqueue, which the server deduplicates on, so a retried write is stored once.
Acks are idempotent on the server; a subscription resumes after the last
message it delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from types import TracebackType

import grpc

from flowmesh._part import DEFAULT_RETRY_BUDGET, DEFAULT_TIMEOUT, Stubs
from flowmesh._tracing import client_interceptors
from flowmesh.exceptions import (
    FlowMeshConnectionError,
    FlowMeshInvalidArgumentError,
    handle_grpc_error,
)
from flowmesh.kv import KVClient
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.queues import QueueClient
from flowmesh.replay import ReplayClient
from flowmesh.schemas import SchemaClient
from flowmesh.streams import StreamClient

__all__ = ["FlowMesh"]

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


class FlowMesh:
    """A connection to a FlowMesh server.

    ::

        async with FlowMesh(endpoint="localhost:50051", auth_token="...") as client:
            await client.kv.set("tenant", "ns", "store", "key", b"value")
    """

    def __init__(
        self,
        endpoint: str = "localhost:50051",
        auth_token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = 10.0,
        tls: bool = False,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
    ) -> None:
        if not retry_budget >= 0:
            raise FlowMeshInvalidArgumentError(
                f"retry_budget: must be >= 0 seconds, got {retry_budget!r}"
            )
        self.endpoint = endpoint
        self.auth_token = auth_token
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry_budget = float(retry_budget)
        # The idempotent producer: this client's id and the number of its next
        # write batch or enqueue (a retry resends the same number).
        self.producer_id = uuid.uuid4().hex
        self._producer_seq = itertools.count(1)
        self._tls = tls
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {auth_token}"),) if auth_token else ()
        )
        self._channel: grpc.aio.Channel | None = None
        self._stub_set: Stubs | None = None
        self._owner: FlowMesh | None = None  # set on clients made by with_token()
        self.stream = StreamClient(self)
        self.queue = QueueClient(self)
        self.kv = KVClient(self)
        # The plural names read better for collections (``client.streams.list()``).
        self.streams = self.stream
        self.queues = self.queue
        self.schemas = SchemaClient(self)
        self.replay = ReplayClient(self)

    def _next_seq(self) -> int:
        return next(self._producer_seq)

    def _get_metadata(self) -> list[tuple[str, str]] | None:
        """The call metadata: the bearer token, or None without one."""
        return list(self._metadata) or None

    def with_token(self, auth_token: str | None) -> FlowMesh:
        """A client for the same server that sends ``auth_token`` (None: no token)
        over this client's connection.

        For a gateway acting for many users (each with a token of their own): no
        channel per user. The new client's ``connect()`` connects this one, its
        ``close()`` does nothing; close this client to close the connection.
        """
        other = FlowMesh(
            self.endpoint,
            auth_token,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            tls=self._tls,
            retry_budget=self.retry_budget,
        )
        other._owner = self._owner or self
        return other

    def _stubs(self) -> Stubs:
        if self._owner is not None:
            return self._owner._stubs()
        if self._stub_set is None:
            raise FlowMeshConnectionError(
                "not connected: call `await client.connect()` or use `async with FlowMesh(...)`"
            )
        return self._stub_set

    async def connect(self) -> None:
        """Open the channel and wait until the server answers (or raise FlowMeshConnectionError)."""
        if self._owner is not None:
            await self._owner.connect()
            return
        if self._channel is not None:
            return
        _, _, port = self.endpoint.rpartition(":")
        if port.isdigit() and not 0 < int(port) < 65536:
            raise FlowMeshConnectionError(
                f"endpoint {self.endpoint!r}: port {port} is out of range"
            )
        if self._tls:
            channel = grpc.aio.secure_channel(
                self.endpoint,
                grpc.ssl_channel_credentials(),
                options=_CHANNEL_OPTIONS,
                interceptors=client_interceptors(),
            )
        else:
            channel = grpc.aio.insecure_channel(
                self.endpoint, options=_CHANNEL_OPTIONS, interceptors=client_interceptors()
            )
        try:
            await asyncio.wait_for(channel.channel_ready(), self.connect_timeout)
        except TimeoutError:
            await channel.close()
            raise FlowMeshConnectionError(
                f"FlowMesh server at {self.endpoint} did not answer within "
                f"{self.connect_timeout:g}s"
            ) from None
        self._channel = channel
        self._stub_set = Stubs(channel)

    async def close(self) -> None:
        """Close the connection (a client made by ``with_token()`` leaves it open)."""
        channel, self._channel, self._stub_set = self._channel, None, None
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> FlowMesh:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def health_check(self) -> bool:
        """True when the server process answers (no token needed)."""
        try:
            response = await self._stubs().health.HealthCheck(
                pb.HealthCheckRequest(), timeout=self.timeout, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise handle_grpc_error(exc, "health_check") from None
        return response.status.code == 0

    async def readiness_check(self) -> bool:
        """True when the server and its store are ready to serve."""
        try:
            response = await self._stubs().health.ReadinessCheck(
                pb.ReadinessCheckRequest(), timeout=self.timeout, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise handle_grpc_error(exc, "readiness_check") from None
        return bool(response.ready)
