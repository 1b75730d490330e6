"""Fixtures for the automation service tests: a migrated PostgreSQL database, the
real Redis as broker and rate-limit store, and the API over ASGI or a real port."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation import migrate
from automation.app import create_app
from automation.auth import create_token
from automation.runtime import Runtime
from automation.settings import Settings
from mimeia.testing import ServerProcess, free_port, run_server

INTERNAL_KEY = "test-internal-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdef"
# One secrets key for every automation process these tests start on the shared test
# database (a test's own STATE_DIR would otherwise generate its own key, and a server
# refuses to start when it cannot open the secrets another test sealed).
SECRETS_KEY = "test-secrets-key-0123456789abcdefghijklmnopq"


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    migrate.upgrade(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def broker_prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}automation:"


@pytest.fixture(scope="session")
def airtable_api_url() -> Iterator[str]:
    """mimeiapify's Airtable emulator, a real HTTP server, for the airtable step."""
    port = free_port()
    argv = [
        "python",
        "-m",
        "mimeiapify.testing.airtable",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--rate-limit",
        "50",
    ]
    with run_server(argv):
        yield f"http://127.0.0.1:{port}/v0"


@pytest.fixture(scope="session")
def flowmesh_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real FlowMesh server (SQLite store) for the flowmesh_publish step."""
    port = free_port()
    db = tmp_path_factory.mktemp("flowmesh") / "mesh.db"
    argv = [
        "python",
        "-m",
        "flowmesh",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{db}",
        "--log-format",
        "text",
    ]
    with run_server(argv, timeout=60):
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def service_env(
    airtable_api_url: str,
    flowmesh_endpoint: str,
    migrated_postgres: str,
    redis_url: str,
    broker_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """Environment for service processes (worker, API) in these tests."""
    return {
        "ENV": "test",
        "DATABASE_URL": migrated_postgres,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_KEY_PREFIX": broker_prefix,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "JWT_SECRET_KEY": JWT_SECRET,
        "SECRETS_KEY": SECRETS_KEY,
        "STATE_DIR": str(tmp_path_factory.mktemp("automation-state")),
        "RATE_LIMIT": "100000/minute",
        "HTTP_STEP_ALLOWED_HOSTS": "127.0.0.1,localhost,::1",
        "EXECUTION_LEASE_SECONDS": "3",
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
        "AIRTABLE_API_URL": airtable_api_url,
        "FLOWMESH_URL": flowmesh_endpoint,
    }


@pytest.fixture
def settings(service_env: dict[str, str]) -> Settings:
    values = {k.lower(): v for k, v in service_env.items()}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.from_settings(settings)
    yield rt
    await rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _internal_headers(tenant: str) -> dict[str, str]:
    return {"X-Internal-API-Key": INTERNAL_KEY, "X-Tenant-ID": tenant}


def _bearer(
    tenant: str, scopes: list[str] | None = None, expires_in: float = 600
) -> dict[str, str]:
    token = create_token(
        JWT_SECRET, "user-1", tenant, scopes if scopes is not None else ["*"], expires_in
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def internal_headers() -> Callable[[str], dict[str, str]]:
    """Headers of a service call for a tenant (X-Internal-API-Key + X-Tenant-ID)."""
    return _internal_headers


@pytest.fixture
def bearer() -> Callable[..., dict[str, str]]:
    """Headers with a user token: ``bearer(tenant, scopes=None, expires_in=600)``."""
    return _bearer


@pytest.fixture
def jwt_secret() -> str:
    return JWT_SECRET


@pytest.fixture
def auth(tenant: str) -> dict[str, str]:
    return _internal_headers(tenant)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'automation.db'}"


# -- a real Celery worker process ------------------------------------------------


@pytest.fixture(scope="session")
def worker(service_env: dict[str, str]) -> Iterator[ServerProcess]:
    """A real ``automation worker`` (threads pool, embedded beat) for this session."""
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    with run_server(
        [
            "python",
            "-m",
            "automation",
            "worker",
            "-P",
            "threads",
            "-c",
            "4",
            "-n",
            name,
            "--beat",
            "-l",
            "INFO",
        ],
        ready_text=" ready.",
        env=service_env,
        timeout=90,
    ) as proc:
        yield proc


# -- a local HTTP endpoint that records what it gets --------------------------------


@dataclass
class Recorder:
    """A threaded HTTP server on loopback. Paths: ``/ok`` (200 JSON echo),
    ``/status/<code>``, ``/flaky/<key>/<n>`` (503 for the first n calls),
    ``/sleep/<seconds>``, ``/gate/<key>`` (503 until opened)."""

    port: int
    hits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gates: set[str] = field(default_factory=set)
    sleep_once: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return len(self.hits.get(path, []))


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _reply(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode()
            path = self.path.split("?")[0]
            with recorder.lock:
                calls = recorder.hits.setdefault(path, [])
                calls.append({"body": body, "headers": dict(self.headers), "at": time.time()})
                n = len(calls)
            parts = path.strip("/").split("/")
            if parts[0] == "status":
                self._reply(int(parts[1]), {"status": int(parts[1])})
            elif parts[0] == "flaky":
                self._reply(503 if n <= int(parts[2]) else 200, {"call": n})
            elif parts[0] == "sleep":
                time.sleep(float(parts[1]))
                self._reply(200, {"slept": float(parts[1])})
            elif parts[0] == "sleep-first":
                if n == 1:
                    time.sleep(float(parts[1]))
                self._reply(200, {"call": n})
            elif parts[0] == "gate":
                self._reply(200 if parts[1] in recorder.gates else 503, {"call": n})
            else:
                self._reply(200, {"ok": True, "call": n, "echo": body})

        do_GET = do_POST = do_PUT = _handle

    return Handler


@pytest.fixture(scope="session")
def recorder() -> Iterator[Recorder]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Recorder(0)))
    rec = Recorder(server.server_address[1])
    server.RequestHandlerClass = _handler(rec)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()


async def wait_for(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    execution_id: str,
    statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
    timeout: float = 30.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/api/v1/workflows/executions/{execution_id}", headers=headers)
        body = response.json()
        if body.get("status") in statuses:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"execution not {statuses} within {timeout}s: {body}")


@pytest.fixture
def wait_execution() -> Callable[..., Awaitable[dict[str, Any]]]:
    """``await wait_execution(client, headers, execution_id, statuses=..., timeout=...)``."""
    return wait_for
