"""The blocking mesh client: :class:`MeshEngine` and :class:`MeshSession`."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, ClassVar

import httpx

from common_core.retry_httpx import maybe_sent
from common_mesh._config import EngineBase, SessionBase, StreamName
from common_mesh.batching import Batch, Delivery, SendSummary, Step
from common_mesh.errors import MeshDeliveryError, MeshSessionThreadError
from mimeia_telemetry.httpx import sync_transport

__all__ = ["MeshEngine", "MeshSession"]


class MeshEngine(EngineBase):
    """One per mesh base URL, reused for the life of the process.

    It owns the HTTP connection pool (opened on first use, closed by
    :meth:`close` or the ``with`` block, and reopened if used again) and hands
    out :class:`MeshSession` objects, one per (org, module, model).
    """

    _client: httpx.Client | None = None
    _shared: ClassVar[dict[str, MeshEngine]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls, base_url: str, **options: Any) -> MeshEngine:
        """The process-wide engine of ``base_url`` (made on first call, options then).

        For code that cannot pass an engine around. Do not close it inside a
        ``with`` block while other threads use it; :meth:`close_shared` at exit.
        """
        key = base_url.rstrip("/")
        with cls._shared_lock:
            engine = cls._shared.get(key)
            if engine is None:
                engine = cls._shared[key] = cls(base_url, **options)
            return engine

    @classmethod
    def close_shared(cls) -> None:
        with cls._shared_lock:
            engines, cls._shared = list(cls._shared.values()), {}
        for engine in engines:
            engine.close()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._client.is_closed:
                self._client = httpx.Client(
                    **self.config.client_options(),  # type: ignore[arg-type]
                    transport=sync_transport(),  # client spans + traceparent when tracing is on
                )
            return self._client

    def create_session(self, org: str, module: str, model: str) -> MeshSession:
        """A session bound to one stream; use it from the creating thread only."""
        return MeshSession(self, StreamName.checked(org, module, model))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> MeshEngine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()


class MeshSession(SessionBase):
    """Sends models to one (org, module, model) stream. Not thread safe."""

    def __init__(self, engine: MeshEngine, stream: StreamName) -> None:
        super().__init__(stream)
        self.engine = engine
        self._owner = threading.get_ident()

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise MeshSessionThreadError(
                "a MeshSession belongs to the thread that created it; "
                "call engine.create_session() in this thread"
            )

    def send_all_models(self, models: Iterable[object]) -> SendSummary:
        """Stream ``models`` to the mesh in compressed batches; return what was sent.

        Models are read one at a time, so a generator of any length runs in
        constant memory. While one batch is on the wire the next is being
        built. Raises :class:`MeshDeliveryError` when a batch cannot be stored
        (its ``sent_models`` says how many models earlier batches delivered).
        """
        self._check_thread()
        started = time.perf_counter()
        summary = SendSummary()
        batcher = self.engine.config.new_batcher()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mesh-send") as pool:
            in_flight: Future[tuple[Delivery, Step]] | None = None

            def hand_over(batch: Batch) -> None:
                nonlocal in_flight
                if in_flight is not None:
                    self._settle(in_flight, summary)
                # the sender thread runs in the caller's context (its trace, log fields)
                in_flight = pool.submit(contextvars.copy_context().run, self._deliver, batch)

            try:
                for model in models:
                    batch = batcher.add(model)
                    if batch is not None:
                        hand_over(batch)
                last = batcher.flush()
                if last is not None:
                    hand_over(last)
                if in_flight is not None:
                    self._settle(in_flight, summary)
                    in_flight = None
            finally:
                if in_flight is not None:
                    in_flight.cancel()
                    # Let the wire finish so the pool closes cleanly; errors already raised.
                    in_flight.exception()
        summary.seconds = time.perf_counter() - started
        return summary

    def send_models(self, *models: object) -> SendSummary:
        return self.send_all_models(models)

    @staticmethod
    def _settle(future: Future[tuple[Delivery, Step]], summary: SendSummary) -> None:
        try:
            delivery, step = future.result()
        except MeshDeliveryError as exc:
            exc.sent_models = summary.models
            raise
        summary.record(delivery, step)

    def _deliver(self, batch: Batch) -> tuple[Delivery, Step]:
        delivery = Delivery(batch, self.engine.config.retry)
        client = self.engine._http()
        while True:
            delivery.start_attempt()
            try:
                response = client.post(self.path, content=batch.body, headers=batch.headers())
            except httpx.TransportError as exc:
                step = delivery.on_transport_error(exc, maybe_sent=maybe_sent(exc))
            else:
                step = delivery.on_response(response.status_code, response.headers,
                                            response.content)  # fmt: skip
            if step.done:
                return delivery, step
            time.sleep(step.delay)
