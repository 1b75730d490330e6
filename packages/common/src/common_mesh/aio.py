"""The asyncio mesh client: :class:`AsyncMeshEngine` and :class:`AsyncMeshSession`.

Same batching, ids and retry decisions as the blocking client (both drive
:mod:`common_mesh.batching`); only the transport differs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Iterable
from types import TracebackType

import httpx

from common_core.retry_httpx import maybe_sent
from common_mesh._config import EngineBase, SessionBase, StreamName
from common_mesh.batching import Batch, Delivery, SendSummary, Step
from common_mesh.errors import MeshDeliveryError
from mimeia_telemetry.httpx import async_transport

__all__ = ["AsyncMeshEngine", "AsyncMeshSession"]


class AsyncMeshEngine(EngineBase):
    """The async twin of :class:`common_mesh.MeshEngine`; use one per event loop."""

    _client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                **self.config.client_options(),  # type: ignore[arg-type]
                transport=async_transport(),  # client spans + traceparent when tracing is on
            )
        return self._client

    def create_session(self, org: str, module: str, model: str) -> AsyncMeshSession:
        return AsyncMeshSession(self, StreamName.checked(org, module, model))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> AsyncMeshEngine:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.aclose()


class AsyncMeshSession(SessionBase):
    """Sends models to one (org, module, model) stream from one task at a time."""

    def __init__(self, engine: AsyncMeshEngine, stream: StreamName) -> None:
        super().__init__(stream)
        self.engine = engine

    async def send_all_models(
        self, models: Iterable[object] | AsyncIterable[object]
    ) -> SendSummary:
        """Stream ``models`` (a sync or async iterable) to the mesh; see the sync version."""
        started = time.perf_counter()
        summary = SendSummary()
        batcher = self.engine.config.new_batcher()
        in_flight: asyncio.Task[tuple[Delivery, Step]] | None = None

        async def hand_over(batch: Batch) -> None:
            nonlocal in_flight
            if in_flight is not None:
                await self._settle(in_flight, summary)
            in_flight = asyncio.create_task(self._deliver(batch))

        try:
            if isinstance(models, AsyncIterable):
                async for model in models:
                    batch = batcher.add(model)
                    if batch is not None:
                        await hand_over(batch)
            else:
                for model in models:
                    batch = batcher.add(model)
                    if batch is not None:
                        await hand_over(batch)
            last = batcher.flush()
            if last is not None:
                await hand_over(last)
            if in_flight is not None:
                await self._settle(in_flight, summary)
                in_flight = None
        finally:
            if in_flight is not None and not in_flight.done():
                in_flight.cancel()
                await asyncio.gather(in_flight, return_exceptions=True)
        summary.seconds = time.perf_counter() - started
        return summary

    async def send_models(self, *models: object) -> SendSummary:
        return await self.send_all_models(models)

    @staticmethod
    async def _settle(task: asyncio.Task[tuple[Delivery, Step]], summary: SendSummary) -> None:
        try:
            delivery, step = await task
        except MeshDeliveryError as exc:
            exc.sent_models = summary.models
            raise
        summary.record(delivery, step)

    async def _deliver(self, batch: Batch) -> tuple[Delivery, Step]:
        delivery = Delivery(batch, self.engine.config.retry)
        client = self.engine._http()
        while True:
            delivery.start_attempt()
            try:
                response = await client.post(self.path, content=batch.body,
                                             headers=batch.headers())  # fmt: skip
            except httpx.TransportError as exc:
                step = delivery.on_transport_error(exc, maybe_sent=maybe_sent(exc))
            else:
                step = delivery.on_response(response.status_code, response.headers,
                                            response.content)  # fmt: skip
            if step.done:
                return delivery, step
            await asyncio.sleep(step.delay)
