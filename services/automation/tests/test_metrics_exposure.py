"""Issue 14.12: a /metrics scrape does not run whole-table aggregates each time,
/metrics can require a token, and /info in production keeps the deployment's
details (environment, database, broker) for authenticated callers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from automation.app import create_app
from automation.runtime import Runtime
from automation.settings import Settings

pytestmark = pytest.mark.integration

SCRAPES = 60


async def app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    runtime = Runtime.from_settings(settings)
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, runtime
    await runtime.close()


@pytest.fixture
async def scraped(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    async for pair in app_client(settings.model_copy(update={"metrics_cache_seconds": 30.0})):
        yield pair


async def test_concurrent_scrapes_share_one_aggregate(scraped) -> None:
    client, runtime = scraped
    aggregates: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "GROUP BY" in statement.upper():
            aggregates.append(statement)

    event.listen(runtime.database.engine.sync_engine, "before_cursor_execute", count)
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get("/metrics") for _ in range(SCRAPES)))
    concurrent = time.perf_counter() - started
    started = time.perf_counter()
    again = await client.get("/metrics")
    cached = time.perf_counter() - started
    print(f"\n{SCRAPES} concurrent scrapes: {concurrent * 1000:.0f} ms in all, "
          f"{len(aggregates)} aggregate queries; cached scrape {cached * 1000:.1f} ms")  # fmt: skip
    assert {a.status_code for a in answers} == {200}
    assert all("automation_workflow_executions" in a.text or "automation_rule_executions"
               in a.text for a in answers)  # fmt: skip
    assert again.status_code == 200
    # one computation (five GROUP BY queries, one per table) serves all 61 scrapes
    assert len(aggregates) == 5


async def test_metrics_token_guards_the_route(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-token-0123456789"})
    async for client, _ in app_client(guarded):
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await client.get(
            "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"}
        )
        assert ok.status_code == 200
        assert "automation_http_requests_total" in ok.text


async def test_info_in_production_hides_the_deployment_from_strangers(
    settings: Settings, internal_headers
) -> None:
    production = settings.model_copy(
        update={"env": "production", "webhook_secret_key": "whsec-test-0123456789abcdef"}
    )
    async for client, _ in app_client(production):
        public = (await client.get("/info")).json()
        assert public["service"] == production.service_name
        assert not {"environment", "database", "broker"} & set(public), public
        told = (await client.get("/info", headers=internal_headers("ops"))).json()
        assert told["environment"] == "production"
        assert told["database"] == "postgresql"
        assert told["broker"] == "redis"
