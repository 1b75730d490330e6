"""Real faults under load: a worker ``kill -9``ed and PostgreSQL restarted while 200
workflow runs are in flight (a private cluster made with ``initdb``, so nobody
else's database blinks). Every run ends succeeded, none is stuck, and each run's
requests to the receiver carry one ``Idempotency-Key``. The API answers 503 with
``Retry-After`` while the database is down."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest

from automation import migrate
from automation.app import create_app
from automation.runtime import Runtime
from automation.settings import Settings
from mimeia.testing import run_server

from .pgcluster import PrivatePostgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUNS = 200
CALL_SECONDS = 0.15  # how long the receiver takes: keeps runs in flight during the faults


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


@pytest.fixture(scope="module")
def database_url(cluster: PrivatePostgres) -> str:
    async def create() -> None:
        conn = await asyncpg.connect(cluster.url(), timeout=10)
        try:
            await conn.execute("CREATE DATABASE automation")
        finally:
            await conn.close()

    asyncio.run(create())
    url = cluster.url("automation")
    migrate.upgrade(url)
    return url


@pytest.fixture
def fault_env(service_env: dict[str, str], database_url: str, redis_prefix: str) -> dict[str, str]:
    env = {**service_env, "DATABASE_URL": database_url,
           "CELERY_KEY_PREFIX": f"{redis_prefix}faults-{uuid.uuid4().hex[:6]}:",
           "SCHEDULER_INTERVAL_SECONDS": "1"}  # fmt: skip
    env.pop("EXECUTION_LEASE_SECONDS")  # the default lease and heartbeat, as deployed
    return env


@pytest.fixture
async def api(fault_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(**{k.lower(): v for k, v in fault_env.items()})  # type: ignore[arg-type]
    runtime = Runtime.from_settings(settings)
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 timeout=30) as client:  # fmt: skip
        yield client
    await runtime.close()


async def test_api_answers_503_with_retry_after_while_the_database_is_down(
    api: httpx.AsyncClient, cluster: PrivatePostgres, auth: dict[str, str]
) -> None:
    assert (await api.get("/api/v1/workflows", headers=auth)).status_code == 200
    await asyncio.to_thread(cluster.stop)
    try:
        listed = await api.get("/api/v1/workflows", headers=auth)
        event = await api.post("/api/v1/events", headers=auth,
                               json={"event_type": "order.paid", "data": {"id": 1}})  # fmt: skip
    finally:
        await asyncio.to_thread(cluster.start)
    for answer in (listed, event):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "2"
        assert "database" in answer.json()["detail"]
    assert (await api.get("/api/v1/workflows", headers=auth)).status_code == 200
    again = await api.post("/api/v1/events", headers=auth,
                           json={"event_type": "order.paid", "data": {"id": 1}})  # fmt: skip
    assert again.status_code == 202


# -- the receiver the middle step calls ------------------------------------------


@dataclass
class Calls:
    """What the receiver got: per run number, (Idempotency-Key, status answered)."""

    by_run: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.by_run.values())


def _receiver(calls: Calls) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            n = int(self.path.rsplit("/", 1)[-1])
            with calls.lock:
                seen = calls.by_run.setdefault(n, [])
                # every tenth run's first call fails: its retry policy has work to do
                status = 503 if n % 10 == 0 and not seen else 200
                seen.append((self.headers.get("idempotency-key", ""), status))
            if status == 200:
                time.sleep(CALL_SECONDS)
            body = json.dumps({"n": n}).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller was kill -9ed

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _worker(name: str, beat: bool) -> list[str]:
    argv = ["python", "-m", "automation", "worker", "-P", "threads", "-c", "4",
            "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "-l", "INFO"]  # fmt: skip
    return [*argv, "--beat"] if beat else argv


async def _rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """One query on a fresh connection (the server may have just restarted)."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _post(api: httpx.AsyncClient, path: str, auth: dict[str, str],
                body: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """POST, honouring 503 + Retry-After as a client should."""
    for _ in range(30):
        answer = await api.post(path, headers=auth, json=body)
        if answer.status_code != 503:
            assert answer.status_code in (201, 202), answer.text
            result: dict[str, Any] = answer.json()
            return result
        await asyncio.sleep(float(answer.headers["retry-after"]) / 4)
    raise AssertionError(f"{path} stayed unavailable")


@pytest.mark.timeout(300)
async def test_runs_ride_through_a_worker_kill_and_a_database_restart(
    api: httpx.AsyncClient, fault_env: dict[str, str], database_url: str,
    cluster: PrivatePostgres, auth: dict[str, str],
) -> None:  # fmt: skip
    plain_url = database_url
    t0 = time.monotonic()
    calls = Calls()
    server = _receiver(calls)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    steps = [
        {"id": "prepare", "type": "data_transform", "config": {"output": {"n": "{{ n }}"}}},
        {"id": "call", "type": "http_request",
         "config": {"url": base + "/call/{{ n }}", "method": "POST", "json": {"n": "{{ n }}"},
                    "timeout_seconds": 10},
         "retry": {"max_attempts": 5, "backoff": "exponential", "delay_seconds": 0.5}},
        {"id": "finish", "type": "data_transform",
         "config": {"output": {"status": "{{ steps.call.output.status_code }}"}}},
    ]  # fmt: skip
    workflow = await _post(api, "/api/v1/workflows", auth, {"name": "faults", "steps": steps})

    executions: dict[str, int] = {}
    slots = asyncio.Semaphore(16)

    async def start(n: int) -> None:
        async with slots:
            started = await _post(api, f"/api/v1/workflows/{workflow['id']}/execute", auth,
                                  {"input_data": {"n": n}})  # fmt: skip
        executions[started["id"]] = n

    with ExitStack() as stack:
        # the runs are queued while the two workers start (both at once)
        posting = asyncio.gather(*(start(n) for n in range(RUNS)))
        workers = [
            run_server(_worker(name, beat=name == "survivor"), " ready.", 120, fault_env)
            for name in ("doomed", "survivor")
        ]
        ready = await asyncio.gather(
            *(asyncio.to_thread(stack.enter_context, w) for w in workers), return_exceptions=True
        )
        for outcome in ready:
            if isinstance(outcome, BaseException):
                raise outcome
        doomed, survivor = ready

        succeeded = "SELECT count(*) AS n FROM workflow_executions WHERE status = 'succeeded'"

        async def finished() -> int:
            return int((await _rows(plain_url, succeeded))[0]["n"])

        # kill -9 the first worker while it holds runs, once the work is flowing
        pid = doomed.process.pid
        owned_by_doomed = "%:" + str(pid) + ":%"
        deadline = time.monotonic() + 60
        held: list[str] = []
        while time.monotonic() < deadline:
            held = [r["id"] for r in await _rows(plain_url,
                    "SELECT id FROM workflow_executions WHERE status = 'running' "
                    "AND lease_owner LIKE $1", owned_by_doomed)]  # fmt: skip
            if len(held) >= 2 and await finished() >= RUNS // 10:
                break
            await asyncio.sleep(0.02)
        assert held, "the doomed worker never held a run"
        doomed.process.kill()
        killed_at = time.monotonic()
        doomed.process.wait()

        # watch the dead worker's runs come back (claimed by the survivor, or done)
        resumed: dict[str, float] = {}

        async def watch() -> None:
            while len(resumed) < len(held):
                try:
                    rows = await _rows(plain_url,
                                       "SELECT id, status, lease_owner FROM workflow_executions "
                                       "WHERE id = ANY($1::text[])", held)  # fmt: skip
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    rows = []  # the database is restarting
                for row in rows:
                    owner = row["lease_owner"] or ""
                    back = row["status"] in ("succeeded", "failed") or (
                        row["status"] == "running" and f":{pid}:" not in owner
                    )
                    if back and row["id"] not in resumed:
                        resumed[row["id"]] = time.monotonic() - killed_at
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        # restart the database 1 s later, with the survivor in full swing
        await asyncio.sleep(1.0)
        done_before_restart = await finished()
        away = await asyncio.to_thread(cluster.restart)  # fast shutdown: sessions are cut
        await posting  # the API answered 503 + Retry-After meanwhile; the client waited
        assert len(executions) == RUNS

        deadline = time.monotonic() + 150
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            try:
                rows = await _rows(plain_url, "SELECT status, count(*) AS n FROM "
                                   "workflow_executions GROUP BY status")  # fmt: skip
            except (OSError, asyncpg.PostgresError):
                rows = []
            counts = {r["status"]: r["n"] for r in rows}
            if counts.get("succeeded", 0) + counts.get("failed", 0) >= RUNS:
                break
            await asyncio.sleep(0.25)
        await asyncio.wait_for(watcher, timeout=30)
        log = survivor.log

    server.shutdown()
    final = await _rows(plain_url, "SELECT e.id, e.status, e.error, s.status AS call_status, "
                        "s.attempts FROM workflow_executions e JOIN step_runs s ON "
                        "s.execution_id = e.id AND s.step_id = 'call'")  # fmt: skip
    failed = [dict(r) for r in final if r["status"] != "succeeded"]
    assert counts == {"succeeded": RUNS}, (counts, failed[:5], log[-3000:])

    keys_wrong = []
    duplicates = 0
    for row in final:
        got = calls.by_run[executions[row["id"]]]
        if {key for key, _ in got} != {f"workflow:{row['id']}:call"}:
            keys_wrong.append((row["id"], got))
        duplicates += sum(1 for _, status in got if status == 200) > 1
    assert not keys_wrong, keys_wrong[:5]
    assert done_before_restart < RUNS, "the restart came after every run had finished"
    resume = sorted(resumed.values())
    assert resume and resume[-1] < 30, resume
    print(
        f"\nFAULTS automation ({time.monotonic() - t0:.0f}s): "
        f"{counts.get('succeeded', 0)}/{RUNS} succeeded, "
        f"{RUNS - sum(counts.values())} missing, 0 stuck; kill -9 of a worker holding "
        f"{len(held)} runs, time to resume median {statistics.median(resume):.1f}s "
        f"max {resume[-1]:.1f}s; PostgreSQL restart {away:.2f}s with "
        f"{RUNS - done_before_restart} runs unfinished; receiver calls {calls.total()}, "
        f"runs whose request succeeded twice {duplicates} (one Idempotency-Key each); "
        f"survivor reconnects logged {log.count('database connection lost')}, "
        f"task retries logged {log.count('database unavailable')}"
    )
