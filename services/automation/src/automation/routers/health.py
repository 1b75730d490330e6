"""Health, readiness, liveness and service info (public, no auth)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import text

from automation import __version__
from automation.auth import principal_from_headers
from automation.runtime import Runtime

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 3.0


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.services
    return runtime


async def check_database(runtime: Runtime) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), runtime.database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        return {"status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        "status": "healthy",
        "dialect": runtime.database.engine.dialect.name,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


async def check_redis(runtime: Runtime) -> dict[str, Any]:
    url = runtime.settings.redis_url
    if not url:
        return {"status": "not_configured"}
    started = time.perf_counter()
    client = aioredis.Redis.from_url(
        url,
        password=runtime.settings.redis_password,
        socket_timeout=CHECK_TIMEOUT,
        socket_connect_timeout=CHECK_TIMEOUT,
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await client.ping()
    except Exception as exc:
        return {"status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        await client.aclose()
    return {"status": "healthy", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _probe_broker(runtime: Runtime) -> None:
    with runtime.celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)
        conn.default_channel  # noqa: B018  (opening the channel is the check)


async def check_broker(runtime: Runtime) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT + 1):
            await asyncio.to_thread(_probe_broker, runtime)
    except Exception as exc:
        return {"status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"[:300]}
    transport = runtime.celery.conf.broker_url.split(":", 1)[0]
    return {
        "status": "healthy",
        "transport": transport,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    return {"status": "healthy", "service": runtime.settings.service_name, "version": __version__}


@router.get("/health/detailed")
async def health_detailed(request: Request, response: Response) -> dict[str, Any]:
    runtime = _runtime(request)
    database, redis_check, broker = await asyncio.gather(
        check_database(runtime), check_redis(runtime), check_broker(runtime)
    )
    checks = {"database": database, "redis": redis_check, "broker": broker}
    healthy = all(c["status"] in ("healthy", "not_configured") for c in checks.values())
    if not healthy:
        response.status_code = 503
    return {
        "status": "healthy" if healthy else "unhealthy",
        "service": runtime.settings.service_name,
        "version": __version__,
        "checks": checks,
    }


@router.get("/ready")
async def ready(request: Request, response: Response) -> dict[str, Any]:
    database = await check_database(_runtime(request))
    if database["status"] != "healthy":
        response.status_code = 503
        return {"status": "not_ready", "database": database}
    return {"status": "ready"}


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "alive"}


def _authenticated(request: Request, runtime: Runtime) -> bool:
    try:
        principal_from_headers(request, runtime.settings)
    except HTTPException:
        return False
    return True


@router.get("/info")
async def info(request: Request) -> dict[str, Any]:
    """What this service runs. In production the deployment details (environment,
    database, broker) are shown only to an authenticated caller."""
    from automation.registry import registry

    runtime = _runtime(request)
    answer: dict[str, Any] = {
        "service": runtime.settings.service_name,
        "version": __version__,
        "step_types": registry.names("step"),
        "action_types": registry.names("action"),
    }
    if not runtime.settings.is_production or _authenticated(request, runtime):
        answer["environment"] = runtime.settings.env
        answer["database"] = runtime.database.engine.dialect.name
        answer["broker"] = runtime.celery.conf.broker_url.split(":", 1)[0]
    return answer
