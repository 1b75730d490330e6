"""Home: every service's health (the doctor view), the tenant's counts, links."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.clients.automation import Automation
from mimeia_console.clients.flowmesh_reads import FlowMeshReads
from mimeia_console.clients.http import ServiceError
from mimeia_console.health import check_all
from mimeia_console.web import automation, console, creds, render, tenant

COUNTS_TTL = 5.0  # seconds the counts are reused (per credentials and tenant)
_counts_cache: dict[str, tuple[float, Any]] = {}


def _since() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


async def execution_counts(api: Automation) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Executions by status in the last hour over every workflow (the API's own
    aggregate), and the newest failures."""
    summary = await api.get("/executions/summary", since=_since())
    return dict(summary.get("by_status", {})), list(summary.get("latest_failures", []))


async def delivery_counts(api: Automation) -> dict[str, int]:
    hooks, notes = await asyncio.gather(
        api.get("/webhooks/summary", since=_since()),
        api.get("/notifications/summary", since=_since()),
    )
    return {
        "endpoints": int(hooks.get("endpoints", 0)),
        "endpoints_failing": int(hooks.get("endpoints_failing", 0)),
        "endpoints_disabled": int(hooks.get("endpoints_disabled", 0)),
        "deliveries_failing": int(hooks.get("deliveries_failing", 0)),
        "notifications_failed": int(notes.get("by_status", {}).get("failed", 0)),
    }


async def mesh_counts(fm: FlowMeshReads, tenant_id: str) -> dict[str, Any]:
    dlq: list[tuple[str, int]] = []
    lag: list[tuple[str, int]] = []
    for ns, name in await fm.queue_names(tenant_id):
        try:
            stats = await fm.queue_stats(tenant_id, ns, name)
        except ServiceError as exc:
            if exc.status == 404:
                continue  # not created yet
            raise
        dlq.append((f"{ns}/{name}", stats.dlq_jobs))
    for ns, name in await fm.stream_names(tenant_id):
        try:
            info = await fm.stream_info(tenant_id, ns, name)
        except ServiceError as exc:
            if exc.status == 404:
                continue
            raise
        if info.groups:
            lag.append((f"{ns}/{name}", info.lag))
    return {"dlq": dlq, "lag": lag}


async def _guard(coro: Any) -> Any:
    try:
        return await coro
    except ServiceError as exc:
        return exc


async def _counts(request: Request) -> tuple[Any, Any, Any, float]:
    """The tenant's counts, reused for a few seconds (a handful of API calls and
    FlowMesh reads per refresh)."""
    user = creds(request)
    key = hashlib.sha256(f"{user.kind}:{user.secret}:{user.tenant}".encode()).hexdigest()
    now = time.monotonic()
    hit = _counts_cache.get(key)
    if hit is not None and now - hit[0] < COUNTS_TTL:
        return (*hit[1], hit[0])
    c = console(request)
    api = automation(request)
    found = await asyncio.gather(
        _guard(execution_counts(api)),
        _guard(delivery_counts(api)),
        _guard(mesh_counts(c.fm, tenant(request))),
    )
    if len(_counts_cache) > 1000:
        _counts_cache.clear()
    if not any(isinstance(x, ServiceError) for x in found):
        _counts_cache[key] = (now, tuple(found))
    return (*found, now)


async def home(request: Request) -> Response:
    c = console(request)
    health, (executions, deliveries, mesh, _at) = await asyncio.gather(
        check_all(c.settings, c.http, c.fm), _counts(request)
    )
    errors = [x for x in (executions, deliveries, mesh) if isinstance(x, ServiceError)]
    return render(
        request,
        "home.html",
        health=health,
        executions=None if isinstance(executions, ServiceError) else executions,
        deliveries=None if isinstance(deliveries, ServiceError) else deliveries,
        mesh=None if isinstance(mesh, ServiceError) else mesh,
        errors=errors,
    )


ROUTES = [Route("/", home, methods=["GET"])]
