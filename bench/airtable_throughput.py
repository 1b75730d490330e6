"""Airtable under its 5 req/s limit: AirtableAsync vs pyairtable, write 1,000 then read 10,000.

Runs the Airtable emulator with its per-base limit on (5 requests/second,
429 plus a penalty past it) and does the same job with each client, each on a
base of its own: create 1,000 records (100 requests of 10), then read the table
ten times (10,000 records, 100 pages of 100). Reports requests sent, 429s
received (counted by the server), wall time and the floor (requests / 5 per
second). Then 20 concurrent tasks share one base with AirtableAsync, and
stock pyairtable meets Airtable's documented 30-second penalty once.

    uv run python bench/airtable_throughput.py            # full job, about 2.5 minutes
    uv run python bench/airtable_throughput.py --quick    # a tenth of it

The penalty for the main comparison defaults to 1 second so that stock
pyairtable (which retries a 429 for about 3 seconds, then gives up) can finish;
AirtableAsync never draws a penalty, so its numbers do not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from pyairtable import Api

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ratio

from mimeia.testing import free_port, run_server
from mimeiapify.airtable_async import AirtableAsync

KEY = "pat_bench_token"
RATE = 5
FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "singleLineText"},
    {"name": "Amount", "type": "number", "options": {"precision": 2}},
    {"name": "Notes", "type": "multilineText"},
]


@dataclass
class Result:
    label: str
    requests: int
    rate_limited: int
    wall: float
    records: int

    @property
    def floor(self) -> float:
        return self.requests / RATE

    def show(self) -> None:
        print(
            f"{self.label:<26} requests={self.requests:<5} 429s={self.rate_limited:<4} "
            f"wall={self.wall:7.2f}s floor={self.floor:6.2f}s "
            f"wall/floor={self.wall / self.floor:5.3f}"
            + (f" records/s={self.records / self.wall:8.1f}" if self.records else ""),
            flush=True,
        )


def new_base(url: str, name: str) -> str:
    response = requests.post(
        f"{url}/v0/meta/bases",
        json={"name": name, "tables": [{"name": "Rows", "fields": FIELDS}]},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def stats(url: str, base_id: str) -> tuple[int, int]:
    found = requests.get(f"{url}/_emulator/stats", timeout=10).json().get(base_id, {})
    return int(found.get("requests", 0)), int(found.get("rate_limited", 0))


def rows(n: int) -> list[dict[str, Any]]:
    return [{"Name": f"row {i}", "Amount": i * 1.25, "Notes": "x" * 40} for i in range(n)]


def run_ours(url: str, writes: int, reads: int) -> Result:
    base_id = new_base(url, "ours")

    async def job() -> int:
        async with AirtableAsync(base_id, KEY, api_url=f"{url}/v0") as airtable:
            await airtable.create_records("Rows", rows(writes))
            listings = await asyncio.gather(
                *(airtable.fetch_records("Rows", raw=True) for _ in range(reads // writes))
            )
        return sum(len(x) for x in listings)

    started = time.perf_counter()
    read = asyncio.run(job())
    wall = time.perf_counter() - started
    assert read == reads, read
    sent, limited = stats(url, base_id)
    return Result("ours (AirtableAsync)", sent, limited, wall, writes + read)


def run_pyairtable(url: str, writes: int, reads: int) -> Result:
    base_id = new_base(url, "anchor")
    table = Api(KEY, endpoint_url=url).table(base_id, "Rows")
    started = time.perf_counter()
    table.batch_create(rows(writes))
    read = sum(len(table.all()) for _ in range(reads // writes))
    wall = time.perf_counter() - started
    assert read == reads, read
    sent, limited = stats(url, base_id)
    return Result("anchor (pyairtable)", sent, limited, wall, writes + read)


def run_concurrent_tasks(url: str, tasks: int) -> Result:
    base_id = new_base(url, "concurrent")

    async def worker(i: int) -> int:
        # every task has its own client, as independent request handlers would
        airtable = AirtableAsync(base_id, KEY, api_url=f"{url}/v0")
        created = await airtable.create_records("Rows", [{"Name": f"task {i}"}])
        await airtable.update_single_record("Rows", created[0]["id"], {"Amount": i})
        return len(await airtable.fetch_records("Rows", raw=True, max_records=5))

    async def job() -> None:
        await asyncio.gather(*(worker(i) for i in range(tasks)))

    started = time.perf_counter()
    asyncio.run(job())
    wall = time.perf_counter() - started
    sent, limited = stats(url, base_id)
    return Result(f"{tasks} concurrent tasks", sent, limited, wall, 0)


def pyairtable_meets_the_real_penalty() -> str:
    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.airtable", "--port", str(port),
            "--rate-limit", str(RATE), "--penalty-seconds", "30"]  # fmt: skip
    with run_server(argv):
        url = f"http://127.0.0.1:{port}"
        table = Api(KEY, endpoint_url=url).table(new_base(url, "penalty"), "Rows")
        started = time.perf_counter()
        try:
            table.batch_create(rows(100))
        except requests.RequestException as exc:
            return f"failed after {time.perf_counter() - started:.1f}s ({type(exc).__name__})"
        return f"finished in {time.perf_counter() - started:.1f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="write 100, read 1,000")
    parser.add_argument("--penalty-seconds", type=float, default=1.0)
    args = parser.parse_args()
    writes, reads = (100, 1_000) if args.quick else (1_000, 10_000)

    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.airtable", "--port", str(port),
            "--rate-limit", str(RATE), "--penalty-seconds", str(args.penalty_seconds)]  # fmt: skip
    with run_server(argv):
        url = f"http://127.0.0.1:{port}"
        print(f"airtable_throughput: write {writes:,} then read {reads:,} records; emulator "
              f"{RATE} req/s per base, penalty {args.penalty_seconds:g}s", flush=True)  # fmt: skip
        ours = run_ours(url, writes, reads)
        ours.show()
        anchor = run_pyairtable(url, writes, reads)
        anchor.show()
        crowd = run_concurrent_tasks(url, 20)
        crowd.show()
    print(f"stock pyairtable vs the documented 30s penalty: {pyairtable_meets_the_real_penalty()}")
    ok = ours.rate_limited == 0 and crowd.rate_limited == 0 and ours.wall <= 1.10 * ours.floor
    print(f"targets: zero 429s and wall within 10% of the floor: {'met' if ok else 'NOT met'}")
    ratio(
        "throughput (records/s) AirtableAsync vs pyairtable",
        ours.records / ours.wall,
        anchor.records / anchor.wall,
        target=">= 1.0",
    )


if __name__ == "__main__":
    main()
