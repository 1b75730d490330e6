"""Console page render times with 10,000 executions and 1,000,000 stream messages behind them.

Run: ``uv run python bench/console_pages.py [--executions N] [--messages N]``.

Starts on loopback, on a fresh state directory: FlowMesh (SQLite store), the
automation API (embedded SQLite, no worker, so the executions stay as created)
and the console, signed in for loopback as under ``mimeia up``. It fills one
workflow with N executions through the API and one stream with N messages
through the SDK, then times each page (the whole HTTP round trip, the HTML
rendered) over several rounds.

Anchor: the automation API's own JSON for the data the page shows (the least any
UI over the API must pay). Report lines give each page's p50/p95 and the target
(< 300 ms); the final ``ratio:`` line is the slowest page's p95 over its anchor's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from flowmesh import FlowMesh
from flowmesh.types import Event
from mimeia.testing import free_port, run_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import line, percentile, ratio  # noqa: E402

TARGET_MS = 300.0
ROUNDS = 15
API_EXECUTIONS = 200  # created through the API; the rest by the service's store code


async def bulk_executions(db_url: str, wid: str, count: int) -> None:
    """The rest of the executions, written by the automation service's own store code
    (the API takes ~0.1 s per execute here, which would make setup take minutes)."""
    from automation.db import Database
    from automation.models import Workflow
    from automation.workflows.engine import create_execution

    db = Database(db_url)
    try:
        async with db.session() as session:
            workflow = await session.get(Workflow, wid)
            assert workflow is not None
            for i in range(count):
                await create_execution(session, workflow, input_data={"n": i}, trigger="bench")
                if i % 1000 == 999:
                    await session.commit()
            await session.commit()
    finally:
        await db.engine.dispose()


async def fill_executions(
    api: str, headers: dict[str, str], count: int, db_url: str
) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        workflow = (await client.post("/workflows", json={"name": "bench", "steps": [
            {"id": "a", "type": "data_transform", "config": {"output": 1}},
            {"id": "b", "type": "data_transform", "config": {"output": 2}},
        ]})).json()  # fmt: skip
        wid = workflow["id"]
        sem = asyncio.Semaphore(8)
        last = ""

        async def one(i: int) -> None:
            nonlocal last
            async with sem:
                r = await client.post(f"/workflows/{wid}/execute", json={"input_data": {"n": i}})
                r.raise_for_status()
                last = r.json()["id"]

        through_api = min(count, API_EXECUTIONS)
        await asyncio.gather(*(one(i) for i in range(through_api)))
        if count > through_api:
            await bulk_executions(db_url, wid, count - through_api)
        for i in range(200):  # events, for the events page
            await client.post("/events", json={"event_type": "bench.event", "data": {"i": i}})
    return wid, last


async def fill_stream(endpoint: str, count: int) -> None:
    payload = json.dumps({"order_id": "A-1", "total": 42.5, "note": "x" * 40}).encode()
    async with FlowMesh(endpoint=endpoint, timeout=60) as client:
        batch = 5000
        for start in range(0, count, batch):
            n = min(batch, count - start)
            await client.stream.write(
                "default", "bench", "big", [Event(payload=payload, headers={"i": str(start)})] * n
            )


def timed(client: httpx.Client, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    response = client.get(url, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="console-bench-"))
    try:
        run(args, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run(args: argparse.Namespace, state: Path) -> None:
    ports = {"flowmesh": free_port(), "automation": free_port(), "console": free_port()}
    env = {k: "" for k in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY")}
    env["ENV"] = "development"
    fm_url = f"127.0.0.1:{ports['flowmesh']}"
    auto_url = f"http://127.0.0.1:{ports['automation']}"
    with (
        run_server(["python", "-m", "flowmesh", "serve", "--host", "127.0.0.1", "--port",
                    str(ports["flowmesh"]), "--store", f"sqlite:///{state}/fm.db"], env=env),
        run_server(["python", "-m", "automation", "--state-dir", str(state / "automation"),
                    "serve", "--host", "127.0.0.1", "--port", str(ports["automation"])],
                   env=env, timeout=60),
    ):  # fmt: skip
        key = (state / "automation" / "internal_api_key").read_text().strip()
        headers = {"X-Internal-API-Key": key, "X-Tenant-ID": "default"}
        started = time.perf_counter()
        wid, eid = asyncio.run(
            fill_executions(
                f"{auto_url}/api/v1",
                headers,
                args.executions,
                f"sqlite+aiosqlite:///{state}/automation/automation.db",
            )
        )
        line(
            "setup: executions created",
            args.executions,
            f"in {time.perf_counter() - started:.0f} s",
        )
        started = time.perf_counter()
        asyncio.run(fill_stream(fm_url, args.messages))
        line(
            "setup: stream messages written",
            args.messages,
            f"in {time.perf_counter() - started:.0f} s",
        )
        console_env = {**env, "CONSOLE_AUTOMATION_URL": auto_url, "CONSOLE_FLOWMESH_URL": fm_url,
                       "CONSOLE_FLOWMESH_STREAMS": "bench/big",
                       "CONSOLE_LOOPBACK_KEY_FILE": str(state / "automation" / "internal_api_key"),
                       "CONSOLE_METRICS_INTERVAL_SECONDS": "3600"}  # fmt: skip
        os.environ.update({k: v for k, v in console_env.items() if k.startswith("CONSOLE_")})
        with run_server(["python", "-m", "mimeia_console", "serve", "--host", "127.0.0.1",
                         "--port", str(ports["console"])], env=console_env):  # fmt: skip
            base = f"http://127.0.0.1:{ports['console']}"
            last_offset = args.messages - 1
            pages = {
                "home": ("/", "/executions/summary"),
                "workflow + executions page 1": (f"/workflows/{wid}",
                                                 f"/workflows/{wid}/executions?limit=25"),
                "executions, last page": (f"/workflows/{wid}?offset={args.executions - 25}",
                                          f"/workflows/{wid}/executions?limit=25&offset="
                                          f"{args.executions - 25}"),
                "executions filtered (pending)": (f"/workflows/{wid}?status=pending",
                                                  f"/workflows/{wid}/executions?limit=25"
                                                  "&status=pending"),
                "execution": (f"/executions/{eid}", f"/workflows/executions/{eid}"),
                "events": ("/events", "/events?limit=25"),
                "flowmesh": ("/flowmesh", None),
                "stream, newest messages": ("/flowmesh/streams/bench/big", None),
                "stream, middle (offset 500k)": (
                    f"/flowmesh/streams/bench/big?before={last_offset // 2}", None),
            }  # fmt: skip
            worst_label, worst_ours, worst_anchor = "", 0.0, 1.0
            with (
                httpx.Client(base_url=base, timeout=30) as console,
                httpx.Client(base_url=f"{auto_url}/api/v1", headers=headers, timeout=30) as api,
            ):
                for label, (page, anchor_url) in pages.items():
                    timed(console, page)  # warm
                    ours = [timed(console, page) for _ in range(ROUNDS)]
                    if anchor_url is not None:
                        anchor = [timed(api, anchor_url) for _ in range(ROUNDS)]
                    else:  # the SDK read the page needs, straight from FlowMesh
                        anchor = [asyncio.run(_sdk_read(fm_url, last_offset)) for _ in range(5)]
                    p50, p95 = percentile(ours, 50) * 1000, percentile(ours, 95) * 1000
                    a95 = percentile(anchor, 95) * 1000
                    verdict = "ok" if p95 < TARGET_MS else "OVER"
                    print(f"page {label:<32} p50={p50:7.1f}ms p95={p95:7.1f}ms "
                          f"anchor p95={a95:6.1f}ms  target <{TARGET_MS:.0f}ms {verdict}",
                          flush=True)  # fmt: skip
                    if p95 > worst_ours:
                        worst_label, worst_ours, worst_anchor = label, p95, a95
    ratio(
        f"slowest page ({worst_label}, p95 {worst_ours:.0f} ms) vs its API data",
        worst_ours,
        worst_anchor,
        higher_is_better=False,
        target=f"p95 < {TARGET_MS:.0f} ms per page",
    )


async def _sdk_read(endpoint: str, last: int) -> float:
    async with FlowMesh(endpoint=endpoint, timeout=30) as client:
        started = time.perf_counter()
        latest = await client.stream.get_latest_offset("default", "bench", "big")
        await client.stream.read("default", "bench", "big", 0, max(0, latest - 19), 20)
        return time.perf_counter() - started


if __name__ == "__main__":
    main()
