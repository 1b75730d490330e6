"""Automation service throughput and latency next to bare Celery doing the same work.

Figures: events accepted/s, 3-step workflows/s on one worker, event->action latency.

Run: ``uv run python bench/automation_throughput.py [--full]``. Needs the local
Redis and PostgreSQL (as the tests do). Starts, on loopback:

* ours: ``automation serve`` (the API) and one ``automation worker`` (threads pool, 4);
* the anchor: a bare Starlette endpoint that stores the event with asyncpg and
  sends a Celery task, and one bare Celery worker (threads pool, 4) whose tasks
  do the same work directly: three sandboxed template renders written to
  PostgreSQL for a "workflow", one HTTP POST for an "action".

Workflow throughput is measured on a warm worker on both sides: the runs are
queued before the worker starts, and the rate is taken from the completion that
ends the first tenth of them to the last (the rate from worker start is printed
too, as info). The workflow and event figures run in three rounds, alternating
the sides; each side's printed rate is its median round, and each overhead is
the median of the rounds' ours/anchor ratios.

The final ``ratio:`` line is our overhead on the worst of the three figures
(ours/anchor in seconds per operation, lower is better; the target is <= 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import line, percentile, ratio, summary_ms  # noqa: E402

INTERNAL_KEY = "bench-internal-key-0123456789"
ROUNDS = 3
HEADERS = {"X-Internal-API-Key": INTERNAL_KEY, "X-Tenant-ID": "bench"}
TEMPLATES = [
    "{{ order.id }}-{{ order.total * 2 }}",
    "{{ order.customer | upper }}",
    "{{ order.lines | length }} lines",
]


def _admin_dsn() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


# -------------------------------------------------------------- anchor: bare Celery


def anchor_celery(prefix: str) -> Any:
    from celery import Celery

    app = Celery("bench_anchor", broker=_redis_url(), set_as_current=False)
    app.conf.update(
        broker_transport_options={"global_keyprefix": prefix},
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    return app


def define_anchor_tasks(app: Any, dsn: str) -> None:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    compiled = [env.from_string(t) for t in TEMPLATES]
    local = threading.local()

    def run(coro_fn: Any) -> Any:
        if not hasattr(local, "pool"):
            local.loop = getattr(local, "loop", None) or asyncio.new_event_loop()
            asyncio.set_event_loop(local.loop)
            local.pool = local.loop.run_until_complete(
                asyncpg.create_pool(dsn, min_size=1, max_size=2)
            )
        return local.loop.run_until_complete(coro_fn(local.pool))

    @app.task(name="anchor.three_steps")
    def three_steps(run_id: str, data: dict[str, Any]) -> None:
        async def work(pool: Any) -> None:
            async with pool.acquire() as conn:
                for i, template in enumerate(compiled):
                    output = template.render(**data)
                    await conn.execute(
                        "INSERT INTO anchor_steps VALUES ($1, $2, $3)", run_id, i, output
                    )
                await conn.execute("INSERT INTO anchor_runs VALUES ($1, now())", run_id)

        run(work)

    @app.task(name="anchor.deliver")
    def deliver(url: str, payload: dict[str, Any]) -> None:
        httpx.post(url, json=payload, timeout=10).raise_for_status()


def anchor_api(port: int, dsn: str, prefix: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    app_celery = anchor_celery(prefix)
    pool: Any = None

    async def events(request: Request) -> JSONResponse:
        nonlocal pool
        if pool is None:
            pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        body = await request.json()
        if not isinstance(body.get("event_type"), str):
            return JSONResponse({"detail": "event_type"}, status_code=422)
        event_id = str(uuid.uuid4())
        await pool.execute(
            "INSERT INTO anchor_events VALUES ($1, $2, $3, now())",
            event_id,
            body["event_type"],
            json.dumps(body.get("data", {})),
        )
        app_celery.send_task("anchor.process", args=[event_id])
        return JSONResponse({"id": event_id}, status_code=202)

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            print(f"listening on http://127.0.0.1:{port}", flush=True)

    app = Starlette(routes=[Route("/events", events, methods=["POST"])])
    Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")).run()


# -------------------------------------------------------------- processes


@contextmanager
def process(
    argv: list[str], env: dict[str, str], ready: str, timeout: float = 90
) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out: list[str] = []
    seen = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for text in iter(proc.stdout.readline, ""):
            out.append(text)
            if ready in text:
                seen.set()
        seen.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not seen.wait(timeout) or proc.poll() is not None:
            raise RuntimeError(f"{argv} did not get ready:\n{''.join(out[-40:])}")
        yield proc
    except BaseException:
        print("".join(out[-30:]), file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """An HTTP endpoint that records when each payload arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.arrivals[body["id"]] = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def arrived(self, key: str, wait_seconds: float = 60) -> None:
        deadline = time.monotonic() + wait_seconds
        while key not in self.arrivals:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{key} never arrived")
            await asyncio.sleep(0.001)


# -------------------------------------------------------------- measurements


async def post_many(
    url: str, bodies: list[dict[str, Any]], headers: dict[str, str], concurrency: int = 16
) -> float:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post(url, json=body, headers=headers)
                if response.status_code >= 300:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def wait_count(dsn: str, sql: str, expected: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + float(os.environ.get("BENCH_WAIT_SECONDS", 600))
        while time.monotonic() < deadline:
            if await conn.fetchval(sql) >= expected:
                return time.perf_counter()
            await asyncio.sleep(0.02)
        counts = await conn.fetch(
            "SELECT status, min(error), count(*) FROM workflow_executions GROUP BY 1"
        )
    finally:
        await conn.close()
    raise RuntimeError(f"timed out waiting for {expected} rows: {sql}; {counts}")


async def steady_seconds_per_run(dsn: str, sql: str) -> float:
    """Seconds per run once the worker is warm: the span from the completion that
    ends the first tenth of the runs to the last one, over the runs in it. Both
    sides are measured this way, so neither pays for its first connections and
    statement preparation inside a window of a second or two."""
    conn = await asyncpg.connect(dsn)
    try:
        times = [row[0] for row in await conn.fetch(sql)]
    finally:
        await conn.close()
    first = len(times) // 10
    return (times[-1] - times[first]) / (len(times) - 1 - first)


def _print_rounds(label: str, seconds: list[tuple[float, float]]) -> None:
    """One line of (ours, anchor) seconds per operation, round by round."""
    cells = [f"{1 / o:.0f}/{1 / a:.0f} ({o / a:.2f}x)" for o, a in seconds]
    print(f"  {label:<11} " + "  ".join(cells), flush=True)


async def measure(args: argparse.Namespace) -> None:
    admin = _admin_dsn()
    db_name = f"bench_automation_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{db_name}"')
    await conn.close()
    dsn = urlsplit(admin)._replace(path=f"/{db_name}").geturl()
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    try:
        await run_all(args, dsn, prefix)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await conn.close()
        import redis

        client = redis.Redis.from_url(_redis_url())
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.unlink(*keys[i : i + 500])
        client.close()


async def run_all(args: argparse.Namespace, dsn: str, prefix: str) -> None:
    n_workflows, n_events, n_latency = (
        ((2000, 5000, 200) if args.full else (400, 600, 60))
        if not os.environ.get("BENCH_TINY")
        else (10, 20, 3)
    )
    conn = await asyncpg.connect(dsn)
    await conn.execute("""
        CREATE TABLE anchor_events (id text primary key, type text, data jsonb,
                                    created_at timestamptz);
        CREATE TABLE anchor_steps (run_id text, step int, output text);
        CREATE TABLE anchor_runs (run_id text primary key, finished_at timestamptz);
    """)
    await conn.close()
    env = {
        "ENV": "production",
        "WEBHOOK_SECRET_KEY": "bench-webhook-secret",
        "SECRETS_KEY": "bench-secrets-key-0123456789abcdef0123",
        "DATABASE_URL": dsn,
        "REDIS_URL": _redis_url(),
        "CELERY_BROKER_URL": _redis_url(),
        "CELERY_KEY_PREFIX": f"{prefix}ours:",
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "JWT_SECRET_KEY": "bench-jwt-secret-0123456789",
        "RATE_LIMIT": "10000000/minute",
        "HTTP_STEP_ALLOWED_HOSTS": "127.0.0.1",
        "STATE_DIR": f"/tmp/{prefix.rstrip(':')}",
    }
    subprocess.run(  # noqa: ASYNC221  (once, before anything is measured)
        [sys.executable, "-m", "automation", "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    receiver = Receiver()
    me = str(HERE / "automation_throughput.py")
    ours_port, anchor_port = free_port(), free_port()
    ours_api = f"http://127.0.0.1:{ours_port}"
    anchor_env = {"ANCHOR_DSN": dsn, "ANCHOR_PREFIX": f"{prefix}anchor:"}
    worker_args = ["-P", "threads", "-c", "4", "-l", "INFO"]
    print(
        f"quick={not args.full}: {n_workflows} workflows, {n_events} events, "
        f"{n_latency} latency samples",
        flush=True,
    )

    with process(
        [
            sys.executable,
            "-m",
            "automation",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(ours_port),
            "--no-migrate",
        ],
        env,
        "listening on",
    ):
        async with httpx.AsyncClient(base_url=ours_api, headers=HEADERS, timeout=30) as api:
            steps = [
                {"id": f"s{i}", "type": "data_transform", "config": {"output": t}}
                for i, t in enumerate(TEMPLATES)
            ]
            workflow = (
                await api.post("/api/v1/workflows", json={"name": "bench", "steps": steps})
            ).json()
            await api.post(
                "/api/v1/automation/rules",
                json={
                    "name": "ping",
                    "trigger": {"type": "event", "event_type": "bench.ping"},
                    "actions": [
                        {
                            "type": "http_request",
                            "url": receiver.url,
                            "method": "POST",
                            "json": {"id": "{{ id }}"},
                        }
                    ],
                },
            )
        order = {"order": {"id": 7, "total": 21.5, "customer": "ana", "lines": [1, 2, 3]}}
        anchor = anchor_celery(anchor_env["ANCHOR_PREFIX"])
        ours_worker = [sys.executable, "-m", "automation", "worker", *worker_args]
        anchor_worker = [sys.executable, me, "anchor-worker"]
        per_round = max(1, n_latency // ROUNDS)

        async def ours_round() -> tuple[float, float, list[float]]:
            # 1. workflows per second on one worker: queue them all first, then
            #    start the worker and time it.
            conn = await asyncpg.connect(dsn)
            since = await conn.fetchval("SELECT now()")
            await conn.close()
            await post_many(
                f"{ours_api}/api/v1/workflows/{workflow['id']}/execute",
                [{"input_data": order}] * n_workflows,
                HEADERS,
            )
            done_sql = (
                f"FROM workflow_executions WHERE status = 'succeeded' AND created_at >= '{since}'"
            )
            with process(ours_worker, env, " ready."):
                started = time.perf_counter()
                done_at = await wait_count(dsn, f"SELECT count(*) {done_sql}", n_workflows)
                cold = (done_at - started) / n_workflows
                warm = await steady_seconds_per_run(
                    dsn, f"SELECT extract(epoch FROM finished_at)::float8 {done_sql} ORDER BY 1"
                )
                # 3. event -> action latency (sequential, the worker idle otherwise)
                latency = []
                async with httpx.AsyncClient(base_url=ours_api, headers=HEADERS, timeout=30) as api:
                    for _ in range(per_round):
                        ping = uuid.uuid4().hex
                        sent = time.time()
                        await api.post(
                            "/api/v1/events",
                            json={"event_type": "bench.ping", "data": {"id": ping}},
                        )
                        await receiver.arrived(ping)
                        latency.append(receiver.arrivals[ping] - sent)
            return warm, cold, latency

        async def anchor_round() -> tuple[float, float, list[float]]:
            conn = await asyncpg.connect(dsn)
            await conn.execute("TRUNCATE anchor_runs, anchor_steps")
            await conn.close()
            for _ in range(n_workflows):
                anchor.send_task("anchor.three_steps", args=[uuid.uuid4().hex, order])
            with process(anchor_worker, anchor_env, " ready."):
                started = time.perf_counter()
                done_at = await wait_count(dsn, "SELECT count(*) FROM anchor_runs", n_workflows)
                cold = (done_at - started) / n_workflows
                warm = await steady_seconds_per_run(
                    dsn,
                    "SELECT extract(epoch FROM finished_at)::float8 FROM anchor_runs ORDER BY 1",
                )
                latency = []
                for _ in range(per_round):
                    ping = uuid.uuid4().hex
                    sent = time.time()
                    anchor.send_task("anchor.deliver", args=[receiver.url, {"id": ping}])
                    await receiver.arrived(ping)
                    latency.append(receiver.arrivals[ping] - sent)
            return warm, cold, latency

        # Rounds alternate between the two sides, so a slow spell of this (shared,
        # noisy) machine lands on both; each side's figure is its median round.
        ours_runs: list[tuple[float, float, list[float]]] = []
        anchor_runs: list[tuple[float, float, list[float]]] = []
        ours_accept: list[float] = []
        anchor_accept: list[float] = []
        with process(
            [sys.executable, me, "anchor-api", "--port", str(anchor_port)],
            anchor_env,
            "listening on",
        ):
            for _ in range(ROUNDS):
                ours_runs.append(await ours_round())
                anchor_runs.append(await anchor_round())
            # 2. events accepted per second, the APIs alone. Last, since no worker
            #    will ever take these events off the queue.
            for _ in range(ROUNDS):
                ours_accept.append(
                    await post_many(
                        f"{ours_api}/api/v1/events",
                        [{"event_type": "bench.load", "data": order}] * n_events,
                        HEADERS,
                    )
                    / n_events
                )
                anchor_accept.append(
                    await post_many(
                        f"http://127.0.0.1:{anchor_port}/events",
                        [{"event_type": "bench.load", "data": order}] * n_events,
                        {},
                    )
                    / n_events
                )
        anchor.close()

    # Each round's two sides ran back to back; the overhead is the median of the
    # rounds' ratios (ratios hold on a noisy machine, absolute rates drift).
    wf_ratios = [o[0] / a[0] for o, a in zip(ours_runs, anchor_runs, strict=True)]
    accept_ratios = [o / a for o, a in zip(ours_accept, anchor_accept, strict=True)]
    print("rounds, ours/anchor:", flush=True)
    _print_rounds(
        "workflows/s", [(o[0], a[0]) for o, a in zip(ours_runs, anchor_runs, strict=True)]
    )
    _print_rounds("events/s", list(zip(ours_accept, anchor_accept, strict=True)))
    ours_wf = statistics.median(r[0] for r in ours_runs)
    anchor_wf = statistics.median(r[0] for r in anchor_runs)
    ours_wf_cold = statistics.median(r[1] for r in ours_runs)
    anchor_wf_cold = statistics.median(r[1] for r in anchor_runs)
    ours_latency = [x for r in ours_runs for x in r[2]]
    anchor_latency = [x for r in anchor_runs for x in r[2]]
    ours_event = statistics.median(ours_accept)
    anchor_event = statistics.median(anchor_accept)

    print(
        "== 3-step workflow executions, one worker (threads x4), queued before it starts",
        flush=True,
    )
    line("ours executions/s (warm)", 1 / ours_wf, "exec/s")
    line("bare celery task executions/s (warm)", 1 / anchor_wf, "exec/s")
    line("info: ours from worker start", 1 / ours_wf_cold, "exec/s")
    line("info: bare celery from worker start", 1 / anchor_wf_cold, "exec/s")
    print("== events accepted by the API (16 concurrent clients)", flush=True)
    line("ours events/s", 1 / ours_event, "events/s")
    line("bare starlette+asyncpg+celery events/s", 1 / anchor_event, "events/s")
    print("== event -> action latency", flush=True)
    print(f"ours          {summary_ms(ours_latency)}", flush=True)
    print(f"bare celery   {summary_ms(anchor_latency)}", flush=True)
    overheads = {
        "workflow seconds/execution": (statistics.median(wf_ratios), 1.0),
        "event accept seconds/event": (statistics.median(accept_ratios), 1.0),
        "event->action p50 seconds": (percentile(ours_latency, 50), percentile(anchor_latency, 50)),
        "event->action p99 seconds": (percentile(ours_latency, 99), percentile(anchor_latency, 99)),
    }
    for label, (ours, base) in overheads.items():
        print(f"overhead {label:<32} {ours / base:6.2f}x", flush=True)
    worst = max(overheads, key=lambda k: overheads[k][0] / overheads[k][1])
    ratio(f"worst overhead ({worst})", *overheads[worst], higher_is_better=False, target="<= 2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "role", nargs="?", default="bench", choices=["bench", "anchor-worker", "anchor-api"]
    )
    parser.add_argument("--full", action="store_true", help="larger runs (minutes)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.role == "anchor-worker":
        app = anchor_celery(os.environ["ANCHOR_PREFIX"])
        define_anchor_tasks(app, os.environ["ANCHOR_DSN"])
        app.worker_main(
            [
                "worker",
                "-P",
                "threads",
                "-c",
                "4",
                "-l",
                "INFO",
                "-n",
                f"anchor-{uuid.uuid4().hex[:6]}@%h",
            ]
        )
    elif args.role == "anchor-api":
        anchor_api(args.port, os.environ["ANCHOR_DSN"], os.environ["ANCHOR_PREFIX"])
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
