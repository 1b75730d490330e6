"""Connection-class failures, classified once, from real faults: a refused
connection, a server-side terminated session, SQLAlchemy's wrappers; and a run
whose database connection is cut mid-step reconnects and finishes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from automation import dbfaults
from automation.app import create_app
from automation.db import Database
from automation.registry import ActionError
from automation.runtime import Runtime
from automation.settings import Settings, async_database_url
from automation.webhooks.testing import scratch_database
from automation.workflows.engine import ExecutionRunner
from mimeia.testing import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def private_url(postgres_url: str) -> Iterator[str]:
    """A database nobody else uses: these tests cut every session in it."""
    with scratch_database(postgres_url) as url:
        yield url


async def _cut_sessions(url: str) -> int:
    """Terminate every other session of the database, as a server restart would."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


async def test_refused_and_cut_connections_are_connection_errors(private_url: str) -> None:
    with pytest.raises(OSError) as refused:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout=5)
    assert dbfaults.is_connection_error(refused.value)

    conn = await asyncpg.connect(private_url, timeout=10)
    await _cut_sessions(private_url)
    # let the server's "terminating connection" reach the idle client (used at the
    # same moment, raw asyncpg reports a state clash; through SQLAlchemy, as the
    # service uses it, that shows as an invalidated connection, checked below)
    await asyncio.sleep(0.3)
    with pytest.raises(Exception) as cut:
        await conn.fetchval("SELECT 1")
    assert dbfaults.is_connection_error(cut.value)
    assert dbfaults.is_database_outage(cut.value)
    await conn.close()

    engine = create_async_engine(async_database_url(private_url), pool_pre_ping=False)
    try:
        async with engine.connect() as warm:
            await warm.execute(text("SELECT 1"))
        await _cut_sessions(private_url)
        with pytest.raises(Exception) as wrapped:
            async with engine.connect() as stale:
                await stale.execute(text("SELECT 1"))
        assert dbfaults.is_connection_error(wrapped.value), repr(wrapped.value)
        # what a bug raises is not an outage
        async with engine.connect() as conn2:
            with pytest.raises(Exception) as bug:
                await conn2.execute(text("SELEC 1"))
            assert not dbfaults.is_connection_error(bug.value)
            await conn2.rollback()
            await conn2.execute(text("CREATE TEMP TABLE t (id int PRIMARY KEY)"))
            await conn2.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(Exception) as dup:
                await conn2.execute(text("INSERT INTO t VALUES (1)"))
            assert not dbfaults.is_connection_error(dup.value)
    finally:
        await engine.dispose()


def test_a_step_own_network_failure_is_not_a_database_outage() -> None:
    def failing_step() -> None:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            raise ActionError("request to receiver failed") from None

    with pytest.raises(ActionError) as step:
        failing_step()
    assert not dbfaults.is_connection_error(step.value)
    assert not dbfaults.is_database_outage(step.value)
    # a bare refused socket is an outage for our own statements, not for a step
    assert dbfaults.is_connection_error(ConnectionRefusedError(111, "Connection refused"))
    assert not dbfaults.is_database_outage(ConnectionRefusedError(111, "refused"))


@pytest.fixture
async def private_runtime(
    service_env: dict[str, str], private_url: str, redis_prefix: str
) -> AsyncIterator[Runtime]:
    values = {k.lower(): v for k, v in service_env.items()}
    values["database_url"] = private_url
    values["celery_key_prefix"] = f"{redis_prefix}dbfaults-{uuid.uuid4().hex[:6]}:"
    runtime = Runtime.from_settings(Settings.model_validate(values))
    yield runtime
    await runtime.close()


async def test_a_run_whose_connection_is_cut_mid_step_reconnects_and_finishes(
    private_runtime: Runtime, private_url: str, recorder: Any, auth: dict[str, str]
) -> None:
    key = uuid.uuid4().hex
    slow = f"/sleep/1?{key}"
    steps = [
        {"id": "call", "type": "http_request", "config": {"url": recorder.url(slow)}},
        {"id": "after", "type": "data_transform",
         "config": {"output": {"code": "{{ steps.call.output.status_code }}"}}},
    ]  # fmt: skip
    app = create_app(runtime=private_runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:  # fmt: skip
        workflow = await client.post("/api/v1/workflows", headers=auth,
                                     json={"name": "cut", "steps": steps})  # fmt: skip
        started = await client.post(f"/api/v1/workflows/{workflow.json()['id']}/execute",
                                    headers=auth, json={})  # fmt: skip
    execution_id = started.json()["id"]
    calls_before = recorder.count("/sleep/1")
    database = Database(async_database_url(private_url))
    sent: list[tuple[Any, ...]] = []
    runner = ExecutionRunner(database, private_runtime.settings,
                             lambda *a: sent.append(a), "test-runner")  # fmt: skip
    try:
        run = asyncio.create_task(runner.run(execution_id))
        deadline = time.monotonic() + 20
        while recorder.count("/sleep/1") == calls_before and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert await _cut_sessions(private_url) >= 1  # the run's connection, mid-step
        result = await asyncio.wait_for(run, timeout=30)
    finally:
        await database.dispose()
    assert result.claimed and result.status == "succeeded"
    assert runner.reconnects >= 1
    assert recorder.count("/sleep/1") == calls_before + 1  # the step ran once
    conn = await asyncpg.connect(private_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT step_id, status, attempts FROM step_runs WHERE execution_id = $1 "
            "ORDER BY position", execution_id)  # fmt: skip
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("call", "succeeded", 1), ("after", "succeeded", 1)]
