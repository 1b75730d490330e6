"""The receiver's HTTP surface (Starlette)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common_mesh.errors import MeshNameError
from common_mesh.protocol import MAX_BATCH_BYTES, validate_name
from common_mesh.receiver.decode import BatchRejected, decode_batch
from common_mesh.receiver.ledger import BatchLedger, MemoryLedger
from common_mesh.receiver.sink import StreamSink
from common_mesh.tokens import ALL_ORGS, MeshTokens
from mimeia_telemetry.asgi import TraceMiddleware
from mimeia_telemetry.tracing import configure_tracing

__all__ = ["ReceiverStats", "create_app"]

_log = logging.getLogger("common_mesh.receiver")


@dataclass
class ReceiverStats:
    batches: int = 0
    records: int = 0
    duplicate_batches: int = 0
    rejected_batches: int = 0
    sink_failures: int = 0


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BatchRejected(413, "body", f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    sink: StreamSink,
    *,
    ledger: BatchLedger | None = None,
    token: str | None = None,
    tokens: MeshTokens | None = None,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> Starlette:
    """The receiver app writing to ``sink``.

    ``tokens`` (org-scoped, hashed) make a bearer token mandatory: a batch is
    stored only in an org its token names, ``/v1/stats`` needs a token for every
    org. ``token`` is the deprecated single token that may write to every org.
    """
    ledger = ledger or MemoryLedger()
    stats = ReceiverStats()
    # Batch ids being stored right now: a retry racing its original waits for it.
    in_progress: dict[str, asyncio.Event] = {}
    accepted = MeshTokens.build((tokens or MeshTokens()).entries, token)

    def authenticate(request: Request) -> frozenset[str] | JSONResponse:
        """The orgs the request's token may act on (every org when the receiver is
        open), or the 401 answer."""
        if accepted.open:
            return frozenset({ALL_ORGS})
        orgs = accepted.orgs_for(request.headers.get("authorization"))
        if orgs is None:
            return _error(401, "Authorization", "missing or wrong bearer token")
        return orgs

    def forbidden(org: str) -> JSONResponse:
        where = "every org" if org == ALL_ORGS else f"org {org!r}"
        return _error(403, "org", f"this token may not act on {where}")

    async def receive_batch(request: Request) -> JSONResponse:
        orgs = authenticate(request)
        if isinstance(orgs, JSONResponse):
            return orgs
        params = request.path_params
        try:
            org = validate_name("org", params["org"])
            module = validate_name("module", params["module"])
            model = validate_name("model", params["model"])
        except MeshNameError as exc:
            return _error(400, exc.field, str(exc))
        if not MeshTokens.allows(orgs, org):
            return forbidden(org)
        try:
            body = await _read_body(request, max_batch_bytes)
            batch = decode_batch(request.headers, body, max_batch_bytes)
        except BatchRejected as exc:
            stats.rejected_batches += 1
            return _error(exc.status, exc.field, exc.message)

        claim = f"{org}/{batch.batch_id}"
        while (pending := in_progress.get(claim)) is not None:
            await pending.wait()
        done = in_progress[claim] = asyncio.Event()
        try:
            if await ledger.seen(org, batch.batch_id):
                stats.duplicate_batches += 1
                return JSONResponse({"batch_id": batch.batch_id, "accepted": 0, "duplicate": True})
            await sink.append(org, module, model, batch.records, batch.batch_id)
            await ledger.remember(org, batch.batch_id)
        except Exception as exc:
            # The client retries a 503 under the same id; nothing is half-stored
            # because one write carries the whole batch.
            stats.sink_failures += 1
            _log.warning("storing batch %s failed: %r", batch.batch_id, exc)
            return _error(503, "sink", f"could not store the batch: {type(exc).__name__}")
        finally:
            del in_progress[claim]
            done.set()
        stats.batches += 1
        stats.records += len(batch.records)
        return JSONResponse(
            {"batch_id": batch.batch_id, "accepted": len(batch.records), "duplicate": False}
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def show_stats(request: Request) -> JSONResponse:
        # the counts cover every org, so they need a token for every org
        orgs = authenticate(request)
        if isinstance(orgs, JSONResponse):
            return orgs
        if ALL_ORGS not in orgs:
            return forbidden(ALL_ORGS)
        return JSONResponse(asdict(stats))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sink.aclose()

    app = Starlette(
        routes=[
            Route("/v1/streams/{org}/{module}/{model}/batches", receive_batch, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
            Route("/v1/stats", show_stats, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.stats = stats
    if configure_tracing("mesh-receiver"):  # OTEL_* decide; off by default
        app.add_middleware(TraceMiddleware, skip=("/healthz",))
    return app
