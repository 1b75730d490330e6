"""Kill a worker mid-workflow: another worker resumes from the last finished step."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from automation import migrate
from automation.app import create_app
from automation.runtime import Runtime
from automation.settings import Settings
from mimeia.testing import run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def private_database(postgres_url: str) -> Iterator[str]:
    """A database of its own, so no other test's worker or scheduler touches these runs."""
    name = f"automation_resume_{uuid.uuid4().hex[:10]}"
    admin = postgres_url

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = urlsplit(admin)._replace(path=f"/{name}").geturl()
    migrate.upgrade(url)
    yield url
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def resume_env(service_env: dict[str, str], private_database: str,
               redis_prefix: str) -> dict[str, str]:  # fmt: skip
    return {**service_env, "DATABASE_URL": private_database,
            "CELERY_KEY_PREFIX": f"{redis_prefix}resume-{uuid.uuid4().hex[:6]}:",
            "EXECUTION_LEASE_SECONDS": "2"}  # fmt: skip


@pytest.fixture
async def resume_client(resume_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(**{k.lower(): v for k, v in resume_env.items()})  # type: ignore[arg-type]
    runtime = Runtime.from_settings(settings)
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:  # fmt: skip
        yield client
    await runtime.close()


def _worker_argv(name: str, beat: bool) -> list[str]:
    argv = ["python", "-m", "automation", "worker", "-P", "threads", "-c", "2",
            "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "-l", "INFO"]  # fmt: skip
    return [*argv, "--beat"] if beat else argv


async def test_killed_worker_execution_resumes_elsewhere_without_rerunning_steps(
    resume_client: httpx.AsyncClient, resume_env: dict[str, str], recorder, auth, wait_execution
) -> None:
    key = uuid.uuid4().hex
    first, slow, last = f"/ok/{key}-1", f"/sleep-first/30?{key}", f"/ok/{key}-3"
    steps = [
        {"id": "first", "type": "http_request", "config": {"url": recorder.url(first)}},
        {"id": "slow", "type": "http_request",
         "config": {"url": recorder.url(slow), "timeout_seconds": 60}},
        {"id": "last", "type": "http_request", "config": {"url": recorder.url(last)}},
    ]  # fmt: skip
    created = await resume_client.post(
        "/api/v1/workflows", headers=auth, json={"name": "durable", "steps": steps}
    )
    assert created.status_code == 201, created.text
    slow_path = slow.split("?")[0]

    with run_server(_worker_argv("doomed", beat=False), ready_text=" ready.", env=resume_env,
                    timeout=90) as doomed:  # fmt: skip
        started = await resume_client.post(
            f"/api/v1/workflows/{created.json()['id']}/execute", headers=auth, json={}
        )
        execution_id = started.json()["id"]
        deadline = time.monotonic() + 30
        while recorder.count(slow_path) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert recorder.count(slow_path) == 1, "the slow step never started"
        mid = (await resume_client.get(f"/api/v1/workflows/executions/{execution_id}",
                                       headers=auth)).json()  # fmt: skip
        assert mid["status"] == "running"
        assert [s["status"] for s in mid["steps"]] == ["succeeded", "running", "pending"]
        doomed.process.kill()  # SIGKILL: no cleanup, no ack, the lease is left behind
        doomed.process.wait()

    with run_server(_worker_argv("rescuer", beat=True), ready_text=" ready.", env=resume_env,
                    timeout=90):  # fmt: skip
        done = await wait_execution(resume_client, auth, execution_id, timeout=45)

    assert done["status"] == "succeeded", done
    by_id = {s["step_id"]: s for s in done["steps"]}
    assert recorder.count(first) == 1  # finished before the kill: not run again
    assert recorder.count(slow_path) == 2  # interrupted: run again
    assert recorder.count(last) == 1
    assert by_id["first"]["attempts"] == 1 and by_id["slow"]["attempts"] == 2
    assert by_id["slow"]["output"]["body"] == {"call": 2}
