"""Console page render times with 10,000 executions and 1,000,000 stream messages behind them.

Run: ``uv run python bench/console_pages.py`` (defaults are the issue's figures:
10,000 executions, 1,000,000 stream messages; ``--executions N`` / ``--messages N``
make a quicker, smaller run). Setup takes ~2.5 min on a 2-core machine, timing ~3 min.

Starts on loopback, on a fresh state directory: FlowMesh (SQLite store), the
automation API (embedded SQLite, no worker, so what is created stays as created),
the SMTP and SMS sinks and the console, signed in for loopback as under
``mimeia up``. It fills one workflow with N executions, N events over the last
week with as many rule evaluations of one rule (among 30 rules), webhook
endpoints with deliveries, queued notifications, sink mail and SMS, one stream
with M messages, a queue with a DLQ and a KV store, then times each page (the
whole HTTP round trip, the HTML rendered) over several rounds. Home is timed
uncached: each round waits out its 5-second counts cache first.

Anchor, per page and measured in the same run: the calls the page makes for its
data, made straight to the service (the automation API's JSON, the sink's JSON,
the FlowMesh SDK read, the /metrics scrape the charts sample) - the least any UI
over them must pay. Each page line gives p50/p95, the anchor's p95 and the target
(p95 < 300 ms); the final ``ratio:`` line is the slowest page's p95 over its
anchor's. Exits 1 when any page is over the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import smtplib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from flowmesh import FlowMesh
from flowmesh.types import Event, RetryPolicy
from mimeia.testing import free_port, run_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import line, percentile, ratio  # noqa: E402

TARGET_MS = 300.0
ROUNDS = 15
HOME_CACHE_SECONDS = 5.0  # the console's Home counts cache (pages/home.py COUNTS_TTL)
API_EXECUTIONS = 200  # created through the API; the rest by the service's store code
RULES = 30
HOOK_MESSAGES = 200
NOTIFICATIONS = 200
SINK_MESSAGES = 200
QUEUE_JOBS, DLQ_JOBS, KV_KEYS = 1000, 100, 1000


async def bulk_rows(db_url: str, wid: str, rule_id: str, count: int, extra: int) -> None:
    """Written by the automation service's own models (the API takes ~0.1 s per
    execute here, which would make setup take minutes): ``extra`` more executions,
    ``count`` events over the last week and as many evaluations of one rule."""
    from automation.db import Database
    from automation.models import Event as StoredEvent
    from automation.models import RuleExecution, Workflow, new_id
    from automation.workflows.engine import create_execution

    db = Database(db_url)
    now = datetime.now(UTC)
    step = timedelta(days=7) / max(count, 1)
    checks = [{"type": "field_check", "field": "n", "operator": "greater_than",
               "expected": 10, "actual": 1, "passed": False}]  # fmt: skip
    try:
        async with db.session() as session:
            workflow = await session.get(Workflow, wid)
            assert workflow is not None
            for i in range(extra):
                await create_execution(session, workflow, input_data={"n": i}, trigger="bench")
                if i % 1000 == 999:
                    await session.commit()
            await session.commit()
            for i in range(count):
                at = now - step * (count - i)
                eid = new_id()
                session.add(StoredEvent(id=eid, tenant_id="default",
                                        type="bench.event" if i % 2 else "bench.other",
                                        source="bench", data={"n": i}, status="processed",
                                        created_at=at, processed_at=at))  # fmt: skip
                session.add(RuleExecution(tenant_id="default", rule_id=rule_id, event_id=eid,
                                          matched=i % 3 == 0, status="completed",
                                          condition_results=checks, action_results=[],
                                          created_at=at, finished_at=at))  # fmt: skip
                if i % 1000 == 999:
                    await session.commit()
            await session.commit()
    finally:
        await db.engine.dispose()


async def fill_automation(
    api: str, headers: dict[str, str], count: int, db_url: str
) -> dict[str, str]:
    """Executions, rules with evaluations, events, webhooks and notifications; the
    ids the pages need."""
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = await client.post(path, json=body)
            if r.status_code >= 400:
                raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
            return dict(r.json())

        workflow = await post("/workflows", {"name": "bench", "steps": [
            {"id": "a", "type": "data_transform", "config": {"output": 1}},
            {"id": "b", "type": "data_transform", "config": {"output": 2}},
        ]})  # fmt: skip
        wid = workflow["id"]
        sem = asyncio.Semaphore(8)
        last = ""

        async def one(i: int) -> None:
            nonlocal last
            async with sem:
                last = (await post(f"/workflows/{wid}/execute", {"input_data": {"n": i}}))["id"]

        through_api = min(count, API_EXECUTIONS)
        await asyncio.gather(*(one(i) for i in range(through_api)))
        rule_ids = []
        for i in range(RULES):
            rule = await post(
                "/automation/rules",
                {
                    "name": f"bench rule {i}",
                    "trigger": {"type": "event", "event_type": "bench.event"},
                    "conditions": [
                        {
                            "type": "field_check",
                            "field": "n",
                            "operator": "greater_than",
                            "value": 10,
                        }
                    ],
                    "actions": [
                        {"type": "http_request", "url": "http://127.0.0.1:9/", "method": "POST"}
                    ],
                },
            )
            rule_ids.append(rule["id"])
        await bulk_rows(db_url, wid, rule_ids[0], count, count - through_api)
        endpoint = await post(
            "/webhooks/endpoints",
            {"url": "https://hooks.example.com/bench", "name": "bench", "events": ["*"]},
        )
        for i in range(HOOK_MESSAGES):
            await post("/webhooks/deliver", {"event_type": "order.paid", "payload": {"n": i}})
        message = (await client.get("/webhooks/messages", params={"limit": 1})).json()[0]
        for i in range(NOTIFICATIONS):
            await post(
                "/notifications/email",
                {"to": [f"user{i}@example.com"], "subject": f"bench {i}", "body": "hello"},
            )
    return {"workflow": wid, "execution": last, "rule": rule_ids[0],
            "endpoint": endpoint["id"], "message": message["id"]}  # fmt: skip


def fill_sinks(smtp_port: int, sms_url: str) -> None:
    from automation.sinks.sms import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        for i in range(SINK_MESSAGES):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = (
                "bench@example.com",
                "ada@example.com",
                f"m{i}",
            )
            mail.set_content("hello from the bench")
            smtp.send_message(mail)
    url = f"{sms_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    with httpx.Client(auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN), timeout=30) as http:
        for i in range(SINK_MESSAGES):
            form = {"To": "+15005550006", "From": "+15005550001", "Body": f"bench {i}"}
            http.post(url, data=form).raise_for_status()


async def fill_stream(endpoint: str, count: int) -> None:
    payload = json.dumps({"order_id": "A-1", "total": 42.5, "note": "x" * 40}).encode()
    async with FlowMesh(endpoint=endpoint, timeout=60) as client:
        batch = 5000
        for start in range(0, count, batch):
            n = min(batch, count - start)
            await client.stream.write(
                "default", "bench", "big", [Event(payload=payload, headers={"i": str(start)})] * n
            )


async def fill_mesh(endpoint: str) -> None:
    """A queue with jobs waiting and a DLQ, and a KV store."""
    async with FlowMesh(endpoint=endpoint, timeout=60) as client:
        await client.queue.set_retry_policy("default", "bench", "jobs",
                                            RetryPolicy(max_attempts=1))  # fmt: skip
        for i in range(QUEUE_JOBS):
            await client.queue.enqueue("default", "bench", "jobs", json.dumps({"n": i}).encode())
        for _ in range(DLQ_JOBS):
            job = await client.queue.reserve("default", "bench", "jobs")
            assert job is not None
            await client.queue.nack("default", "bench", "jobs", job.id, error="bench failure")
        for i in range(KV_KEYS):
            await client.kv.set("default", "bench", "settings", f"key-{i:05d}",
                                json.dumps({"n": i}).encode())  # fmt: skip


def timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
    return elapsed


Anchor = Callable[[], float]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--executions",
        type=int,
        default=10_000,
        help="executions, events and rule evaluations (default 10,000)",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=1_000_000,
        help="stream messages (default 1,000,000; ~100 s to write here)",
    )
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="console-bench-"))
    try:
        over = run(args, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    if over:
        sys.exit(1)


def run(args: argparse.Namespace, state: Path) -> bool:
    ports = {name: free_port() for name in ("flowmesh", "automation", "console", "smtp",
                                            "smtp-web", "sms")}  # fmt: skip
    env = {k: "" for k in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY")}
    env["ENV"] = "development"
    fm_url = f"127.0.0.1:{ports['flowmesh']}"
    auto_url = f"http://127.0.0.1:{ports['automation']}"
    smtp_web = f"http://127.0.0.1:{ports['smtp-web']}"
    sms_url = f"http://127.0.0.1:{ports['sms']}"
    py = sys.executable
    with (
        run_server([py, "-m", "flowmesh", "serve", "--host", "127.0.0.1", "--port",
                    str(ports["flowmesh"]), "--store", f"sqlite:///{state}/fm.db"], env=env),
        run_server([py, "-m", "automation", "--state-dir", str(state / "automation"),
                    "serve", "--host", "127.0.0.1", "--port", str(ports["automation"])],
                   env=env, timeout=60),
        run_server([py, "-m", "automation.sinks.smtp", "--host", "127.0.0.1", "--port",
                    str(ports["smtp"]), "--web-port", str(ports["smtp-web"])], env=env),
        run_server([py, "-m", "automation.sinks.sms", "--host", "127.0.0.1", "--port",
                    str(ports["sms"])], env=env),
    ):  # fmt: skip
        key = (state / "automation" / "internal_api_key").read_text().strip()
        headers = {"X-Internal-API-Key": key, "X-Tenant-ID": "default"}
        started = time.perf_counter()
        ids = asyncio.run(
            fill_automation(
                f"{auto_url}/api/v1",
                headers,
                args.executions,
                f"sqlite+aiosqlite:///{state}/automation/automation.db",
            )
        )
        line("setup: executions, events, evaluations", args.executions,
             f"each, {RULES} rules, {HOOK_MESSAGES} webhook messages, {NOTIFICATIONS} "
             f"notifications in {time.perf_counter() - started:.0f} s")  # fmt: skip
        started = time.perf_counter()
        asyncio.run(fill_stream(fm_url, args.messages))
        line("setup: stream messages written", args.messages,
             f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        started = time.perf_counter()
        asyncio.run(fill_mesh(fm_url))
        fill_sinks(ports["smtp"], sms_url)
        line("setup: queue jobs (DLQ), KV keys, mail+SMS", QUEUE_JOBS,
             f"({DLQ_JOBS}), {KV_KEYS}, {SINK_MESSAGES}+{SINK_MESSAGES} "
             f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        console_env = {**env, "CONSOLE_AUTOMATION_URL": auto_url, "CONSOLE_FLOWMESH_URL": fm_url,
                       "CONSOLE_FLOWMESH_STREAMS": "bench/big",
                       "CONSOLE_FLOWMESH_QUEUES": "bench/jobs",
                       "CONSOLE_FLOWMESH_KV_STORES": "bench/settings",
                       "CONSOLE_SMTP_SINK_URL": smtp_web, "CONSOLE_SMS_SINK_URL": sms_url,
                       "CONSOLE_LOOPBACK_KEY_FILE": str(state / "automation" / "internal_api_key"),
                       "CONSOLE_METRICS_INTERVAL_SECONDS": "5"}  # fmt: skip
        os.environ.update({k: v for k, v in console_env.items() if k.startswith("CONSOLE_")})
        with run_server([py, "-m", "mimeia_console", "serve", "--host", "127.0.0.1",
                         "--port", str(ports["console"])], env=console_env):  # fmt: skip
            return time_pages(
                args,
                ids,
                f"http://127.0.0.1:{ports['console']}",
                f"{auto_url}/api/v1",
                headers,
                fm_url,
                auto_url,
                smtp_web,
                sms_url,
            )


def time_pages(args: argparse.Namespace, ids: dict[str, str], base: str, api_url: str,
               headers: dict[str, str], fm_url: str, auto_url: str, smtp_web: str,
               sms_url: str) -> bool:  # fmt: skip
    wid, n = ids["workflow"], args.executions
    last_offset = args.messages - 1
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    day_ago = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    week = f"since={(datetime.now(UTC) - timedelta(days=6)).strftime('%Y-%m-%dT%H:%M')}"
    with (
        httpx.Client(base_url=base, timeout=30) as console,
        httpx.Client(base_url=api_url, headers=headers, timeout=30) as api,
        httpx.Client(timeout=30) as plain,
    ):

        def calls(*urls: str) -> Anchor:
            def go() -> float:
                return sum(timed(api, u) for u in urls)

            return go

        def raw(url: str) -> Anchor:
            return lambda: timed(plain, url)

        def sdk(read: Callable[[FlowMesh], Awaitable[Any]]) -> Anchor:
            async def go() -> float:
                async with FlowMesh(endpoint=fm_url, timeout=30) as client:
                    started = time.perf_counter()
                    await read(client)
                    return time.perf_counter() - started

            return lambda: asyncio.run(go())

        async def stream_read(c: FlowMesh, before: int | None = None) -> None:
            latest = await c.stream.get_latest_offset("default", "bench", "big")
            top = latest if before is None else before
            await c.stream.read("default", "bench", "big", 0, max(0, top - 19), 20)

        async def queue_read(c: FlowMesh) -> None:
            await c.queue.get_stats("default", "bench", "jobs")
            await c.queue.list_dlq_jobs("default", "bench", "jobs", 50)

        async def kv_read(c: FlowMesh) -> None:
            await c.kv.list_keys_page("default", "bench", "settings", "", 50, "")

        rid, eid, mid = ids["rule"], ids["endpoint"], ids["message"]
        pages: dict[str, tuple[str, Anchor]] = {
            "home (uncached counts)": ("/", calls(
                f"/executions/summary?since={hour_ago}", f"/webhooks/summary?since={hour_ago}",
                f"/notifications/summary?since={hour_ago}")),
            "workflow + executions page 1": (f"/workflows/{wid}",
                                             calls(f"/workflows/{wid}",
                                                   f"/workflows/{wid}/executions?limit=25")),
            "executions, last page": (f"/workflows/{wid}?offset={n - 25}",
                                      calls(f"/workflows/{wid}/executions?limit=25"
                                            f"&offset={n - 25}")),
            "executions filtered (pending)": (f"/workflows/{wid}?status=pending",
                                              calls(f"/workflows/{wid}/executions?limit=25"
                                                    "&status=pending")),
            "execution": (f"/executions/{ids['execution']}",
                          calls(f"/workflows/executions/{ids['execution']}")),
            "rules": ("/rules", calls("/automation/rules?limit=25")),
            "rule detail (evaluations)": (f"/rules/{rid}", calls(
                f"/automation/rules/{rid}", f"/automation/rules/{rid}/executions?limit=25")),
            "rule evaluations, last page": (f"/rules/{rid}?offset={n - 25}", calls(
                f"/automation/rules/{rid}",
                f"/automation/rules/{rid}/executions?limit=25&offset={n - 25}")),
            "events, type + last 24h": (f"/events?event_type=bench.event&since={day_ago}",
                                        calls(f"/events?event_type=bench.event&since={day_ago}"
                                              "&limit=25")),
            "events, 6 days, page 2": (f"/events?{week}&offset=25",
                                       calls(f"/events?{week}&limit=25&offset=25")),
            "webhooks": ("/webhooks", calls("/webhooks/endpoints?limit=100",
                                            "/webhooks/messages?limit=25")),
            "webhook endpoint": (f"/webhooks/endpoints/{eid}", calls(
                f"/webhooks/endpoints/{eid}", f"/webhooks/endpoints/{eid}/messages?limit=25",
                f"/webhooks/endpoints/{eid}/attempts?limit=25")),
            "webhook delivery": (f"/webhooks/messages/{mid}", calls(
                f"/webhooks/messages/{mid}", f"/webhooks/messages/{mid}/attempts")),
            "notifications": ("/notifications", calls("/notifications?limit=25")),
            "mail": ("/mail", raw(f"{smtp_web}/api/messages")),
            "sms": ("/sms", raw(f"{sms_url}/api/messages")),
            "flowmesh": ("/flowmesh", sdk(stream_read)),
            "stream, newest messages": ("/flowmesh/streams/bench/big", sdk(stream_read)),
            f"stream, middle (offset {last_offset // 2:,})": (
                f"/flowmesh/streams/bench/big?before={last_offset // 2}",
                sdk(lambda c: stream_read(c, last_offset // 2))),
            "queue + DLQ": ("/flowmesh/queues/bench/jobs", sdk(queue_read)),
            "kv": ("/flowmesh/kv/bench/settings", sdk(kv_read)),
            "charts": ("/charts", raw(f"{auto_url}/metrics")),
        }  # fmt: skip
        worst_label, worst_ours, worst_anchor, over = "", 0.0, 1.0, []
        for label, (page, anchor) in pages.items():
            home = page == "/"
            timed(console, page)  # warm (connections, templates)
            anchor()
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(ROUNDS):
                if home:  # the first call after the counts cache expired
                    time.sleep(HOME_CACHE_SECONDS + 0.05)
                ours.append(timed(console, page))
                theirs.append(anchor())
            p50, p95 = percentile(ours, 50) * 1000, percentile(ours, 95) * 1000
            a95 = percentile(theirs, 95) * 1000
            verdict = "ok" if p95 < TARGET_MS else "OVER"
            if verdict == "OVER":
                over.append(label)
            print(f"page {label:<32} p50={p50:7.1f}ms p95={p95:7.1f}ms "
                  f"anchor p95={a95:6.1f}ms  target <{TARGET_MS:.0f}ms {verdict}",
                  flush=True)  # fmt: skip
            if p95 > worst_ours:
                worst_label, worst_ours, worst_anchor = label, p95, a95
    ratio(
        f"slowest page ({worst_label}, p95 {worst_ours:.0f} ms) vs its own data calls;"
        f" {len(pages) - len(over)}/{len(pages)} pages under target",
        worst_ours,
        worst_anchor,
        higher_is_better=False,
        target=f"p95 < {TARGET_MS:.0f} ms per page",
    )
    return bool(over)


if __name__ == "__main__":
    main()
