"""The FastAPI application factory."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from automation import __version__, dbfaults, metrics
from automation.logs import configure_logging
from automation.middleware import (
    RateLimitMiddleware,
    RequestContextMiddleware,
    StorableTextMiddleware,
)
from automation.routers import health, wompi
from automation.runtime import Runtime
from automation.settings import Settings, get_settings
from mimeia_telemetry.asgi import TraceMiddleware, redacted_path
from mimeia_telemetry.tracing import configure_tracing

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the API. ``settings`` default to the environment's."""
    settings = settings or (runtime.settings if runtime else get_settings())
    runtime = runtime or Runtime.from_settings(settings)
    configure_logging(json_lines=settings.env != "development")
    configure_tracing("automation-api")  # OTEL_* decide; off by default

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await runtime.close()

    docs = not settings.is_production
    app = FastAPI(
        title="Automation service",
        version=__version__,
        description="Workflows, rules and events for multi-tenant automation.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # our TraceMiddleware makes the server span (full route, one span per request)
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = runtime

    app.include_router(health.router)
    from automation.routers import api_routers

    for router in api_routers():
        app.include_router(router, prefix="/api/v1")

    exporter = metrics.MetricsExporter(runtime.database, settings.metrics_cache_seconds)
    metrics_auth = f"Bearer {settings.metrics_token}".encode() if settings.metrics_token else None

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if metrics_auth is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, metrics_auth):
                return JSONResponse(
                    {"detail": "Authorization: 'Bearer <METRICS_TOKEN>' is required"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(await exporter.render(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                # drop only the leading "body" (where the field is), not a field named body
                "field": ".".join(
                    str(p) for i, p in enumerate(err.get("loc", ())) if i or p != "body"
                ),
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        return JSONResponse({"detail": "validation failed", "problems": problems}, status_code=422)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if not dbfaults.is_connection_error(exc):
            raise exc  # a real bug: the 500 handler below logs it
        return _unavailable(request, exc)

    # Handled where the route raised (no traceback, no re-raise): the kinds of
    # error a database outage takes; anything else among them is re-raised.
    for kind in dbfaults.OUTAGE_TYPES:
        app.add_exception_handler(kind, database_error)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        if dbfaults.is_connection_error(exc):
            return _unavailable(request, exc)
        log.exception("unhandled error on %s %s", request.method, redacted_path(request.scope))
        return JSONResponse(
            {"detail": "internal error", "request_id": request_id},
            status_code=500,
        )

    app.add_middleware(StorableTextMiddleware, max_body=settings.max_request_body_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        limit=settings.rate_limit,
        storage_url=settings.effective_rate_limit_storage,
        key_prefix=f"{settings.celery_key_prefix}ratelimit",
        settings=settings,
    )
    # Outside rate limiting and auth: every body is capped while it streams in.
    from automation.bodylimit import BodyLimitMiddleware

    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_request_body_bytes,
        limits={"/api/v1/integrations/wompi/": wompi.MAX_BODY},
    )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(TraceMiddleware)  # outermost: the server span continues traceparent
    return app


def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After: the database is restarting or unreachable, and the same
    request will work once it is back (nothing was done)."""
    log.warning("database unavailable on %s %s: %s: %s", request.method,
                redacted_path(request.scope), type(exc).__name__, str(exc)[:200])  # fmt: skip
    return JSONResponse(
        {"detail": "service temporarily unavailable: the database is not answering",
         "request_id": getattr(request.state, "request_id", None)},
        status_code=503,
        headers={"Retry-After": str(dbfaults.RETRY_AFTER_SECONDS)},
    )  # fmt: skip
