"""Home: every service's health (the doctor view), the tenant's counts, links."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
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

WORKFLOWS_SCANNED = 20  # the most recently listed workflows
EXECUTIONS_SCANNED = 50  # the newest executions of each
COUNTS_TTL = 5.0  # seconds the counts are reused (per credentials and tenant)
_counts_cache: dict[str, tuple[float, Any]] = {}


def _recent(created: Any, since: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment >= since


async def execution_counts(api: Automation) -> tuple[Counter[str], list[dict[str, Any]], bool]:
    """Executions by status in the last hour, the newest failures, and whether the scan
    was cut short (more workflows or executions than it reads)."""
    since = datetime.now(UTC) - timedelta(hours=1)
    page = await api.workflows(WORKFLOWS_SCANNED, 0)
    workflows = page.get("items", [])
    partial = int(page.get("total", 0)) > len(workflows)
    pages = await asyncio.gather(
        *(api.executions(w["id"], None, EXECUTIONS_SCANNED, 0) for w in workflows)
    )
    names = {w["id"]: w.get("name", w["id"]) for w in workflows}
    counts: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    for listed in pages:
        items = listed.get("items", [])
        recent = [e for e in items if _recent(e.get("created_at"), since)]
        if len(recent) == len(items) and int(listed.get("total", 0)) > len(items):
            partial = True
        for e in recent:
            counts[str(e.get("status"))] += 1
            if e.get("status") == "failed":
                failures.append({**e, "workflow_name": names.get(e.get("workflow_id"), "")})
    failures.sort(key=lambda e: str(e.get("created_at")), reverse=True)
    return counts, failures[:5], partial


async def delivery_counts(api: Automation) -> dict[str, int]:
    endpoints, failed_notes = await asyncio.gather(
        api.get("/webhooks/endpoints", limit=100),
        api.get("/notifications", status="failed", limit=100),
    )
    return {
        "endpoints": len(endpoints),
        "endpoints_failing": sum(1 for e in endpoints if e.get("failing_since")),
        "endpoints_disabled": sum(1 for e in endpoints if not e.get("enabled")),
        "notifications_failed": len(failed_notes),
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
    """The tenant's counts, reused for a few seconds: a busy tenant's home page costs
    a few dozen API calls to count."""
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
