"""/metrics under load: cached database gauges next to aggregating on every scrape.

Figures: the time for 60 concurrent scrapes of the automation API's /metrics over
a PostgreSQL database holding many step runs, and one lone scrape.

Run: ``uv run python bench/metrics_scrape.py [--rows N] [--scrapes N]``. Needs the
local PostgreSQL (as the tests do); creates and drops its own database.

* ours: the API's ``/metrics`` (database gauges computed once per
  ``METRICS_CACHE_SECONDS`` and shared by concurrent scrapes), over ASGI;
* the anchor: a bare Starlette ``/metrics`` route over the same database that
  aggregates afresh for each scrape (what every scrape cost before, and what a
  plain prometheus-client collector over these tables does), over ASGI too.

The final ``ratio:`` line is ours/anchor in seconds for the concurrent scrapes
(lower is better).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import line, ratio  # noqa: E402

from automation import metrics, migrate  # noqa: E402
from automation.app import create_app  # noqa: E402
from automation.runtime import Runtime  # noqa: E402
from automation.settings import Settings  # noqa: E402
from mimeia import infra  # noqa: E402

SEED = """
INSERT INTO tenants (id, name, created_at) VALUES ('bench', 'bench', now());
INSERT INTO workflows (id, tenant_id, name, description, trigger_type, trigger_config, steps,
                       enabled, version, created_at, updated_at)
VALUES ('wf-bench', 'bench', 'bench', '', 'manual', '{{}}', '[]', true, 1, now(), now());
INSERT INTO workflow_executions (id, tenant_id, workflow_id, status, priority, trigger, input,
                                 context, definition, run_count, created_at, updated_at)
SELECT 'ex-' || g, 'bench', 'wf-bench', (ARRAY['succeeded','failed','running'])[1 + g % 3],
       'normal', 'manual', '{{}}', '{{}}', '[]', 1, now(), now()
FROM generate_series(1, {executions}) AS g;
INSERT INTO step_runs (id, tenant_id, execution_id, step_id, type, position, status, attempts)
SELECT 'sr-' || g, 'bench', 'ex-' || (1 + g % {executions}), 's' || g,
       (ARRAY['http_request','data_transform','condition','delay'])[1 + g % 4], 0,
       (ARRAY['succeeded','failed','skipped'])[1 + g % 3], 1 + g % 2
FROM generate_series(1, {rows}) AS g;
"""


async def seed(dsn: str, rows: int) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        # plain integers formatted in, so the seed is one script
        await conn.execute(SEED.format(executions=max(1, int(rows) // 4), rows=int(rows)))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def anchor_app(runtime: Runtime) -> Starlette:
    async def scrape(_request: Request) -> Response:
        body = generate_latest() + await metrics.database_gauges(runtime.database)
        return Response(body, media_type="text/plain; version=0.0.4")

    return Starlette(routes=[Route("/metrics", scrape)])


async def scrape_all(client: httpx.AsyncClient, n: int) -> float:
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get("/metrics") for _ in range(n)))
    assert all(a.status_code == 200 for a in answers)
    return time.perf_counter() - started


async def run(dsn: str, args: argparse.Namespace) -> None:
    settings = Settings(database_url=dsn, env="test", metrics_cache_seconds=15.0,
                        rate_limit="1000000/minute")  # fmt: skip
    runtime = Runtime.from_settings(settings)
    try:
        bare = httpx.ASGITransport(app=anchor_app(runtime))
        async with httpx.AsyncClient(transport=bare, base_url="http://t", timeout=600) as c:
            lone = await scrape_all(c, 1)
            line("anchor: one scrape", lone * 1000, "ms")
            anchor = await scrape_all(c, args.scrapes)
            line(f"anchor: {args.scrapes} concurrent scrapes", anchor * 1000, "ms")
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=600) as c:
            ours = await scrape_all(c, args.scrapes)
            line(f"ours: {args.scrapes} concurrent scrapes (cold)", ours * 1000, "ms")
            warm = await scrape_all(c, 1)
            line("ours: one scrape (warm)", warm * 1000, "ms")
    finally:
        await runtime.close()
    ratio(f"{args.scrapes} concurrent /metrics scrapes over {args.rows:,} step runs",
          ours, anchor, higher_is_better=False)  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    admin = infra.plain_postgres_dsn(infra.postgres_setting().url)
    name = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin, timeout=10)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = urlsplit(admin)._replace(path=f"/{name}").geturl()
    try:
        await asyncio.to_thread(migrate.upgrade, dsn)
        started = time.perf_counter()
        await seed(dsn, args.rows)
        line("seeded step runs", args.rows, f"rows in {time.perf_counter() - started:.1f}s")
        await run(dsn, args)
    finally:
        conn = await asyncpg.connect(admin, timeout=10)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000, help="step runs to seed")
    parser.add_argument("--scrapes", type=int, default=60, help="concurrent scrapes")
    asyncio.run(main(parser.parse_args()))
