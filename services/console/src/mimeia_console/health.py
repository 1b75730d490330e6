"""The doctor view: does each service answer, and how fast."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from mimeia_console.clients.flowmesh_reads import FlowMeshReads
from mimeia_console.clients.http import ServiceError
from mimeia_console.settings import ConsoleSettings

CHECK_TIMEOUT = 1.5


@dataclass
class Health:
    name: str
    address: str
    up: bool
    detail: str
    millis: float
    link: str = ""


async def _http(http: httpx.AsyncClient, name: str, base: str, path: str, link: str) -> Health:
    started = time.perf_counter()
    url = base.rstrip("/") + path
    try:
        response = await http.get(url, timeout=CHECK_TIMEOUT)
        up = response.status_code < 500
        detail = f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        up, detail = False, f"does not answer ({type(exc).__name__})"
    return Health(name, base, up, detail, (time.perf_counter() - started) * 1000, link)


async def _flowmesh(fm: FlowMeshReads) -> Health:
    started = time.perf_counter()
    try:
        up = await asyncio.wait_for(fm.healthy(), CHECK_TIMEOUT)
        detail = "ready" if up else "not ready"
    except (ServiceError, TimeoutError) as exc:
        up, detail = False, str(exc) if isinstance(exc, ServiceError) else "did not answer in time"
    return Health(
        "flowmesh",
        f"grpc://{fm.endpoint}",
        up,
        detail,
        (time.perf_counter() - started) * 1000,
        "/flowmesh",
    )


async def check_all(
    settings: ConsoleSettings, http: httpx.AsyncClient, fm: FlowMeshReads
) -> list[Health]:
    s = settings
    checks = [
        _http(http, "automation", s.automation_url, "/health", "/workflows"),
        _flowmesh(fm),
        _http(http, "mesh", s.mesh_url, "/healthz", "/flowmesh"),
        _http(http, "smtp-sink", s.smtp_sink_url, "/api/messages?limit=1", "/mail"),
        _http(http, "sms-sink", s.sms_sink_url, "/api/messages?limit=1", "/sms"),
        _http(http, "slack-connect", s.slack_connect_url, "/healthz", "/slack"),
        *(_http(http, name, url, "/", "") for name, url in s.others()),
    ]
    return list(await asyncio.gather(*checks))
