"""WhatsApp under the number's throughput limit: WhatsAppAsync vs a plain aiohttp loop.

Runs the WhatsApp emulator with Meta's default limit (80 messages per second per
business number; error 130429 past it) and sends 1,000 template messages to
1,000 recipients with each, each on a number of its own:

* ours: ``WhatsAppAsync.send_template`` from 1,000 concurrent tasks; the shared
  per-number schedule paces them, a 130429 would be retried by the core;
* anchor: plain ``aiohttp`` with 50 concurrent senders that retry a 130429 after
  a fixed 1-second sleep (up to 10 tries), as hand-written clients do.

Reports messages sent, 130429s drawn (counted by the emulator), failures, wall
time and the floor (messages / limit).

    uv run python bench/whatsapp_throughput.py            # 1,000 messages, ~30 s
    uv run python bench/whatsapp_throughput.py --quick    # 200 messages
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ratio

from mimeia.testing import free_port, run_server
from mimeiapify.errors import MimeiapifyError
from mimeiapify.whatsapp_async import WhatsAppAsync

MPS = 80
VERSION = "v23.0"


@dataclass
class Result:
    label: str
    sent: int
    throttled: int
    failed: int
    wall: float

    @property
    def floor(self) -> float:
        return self.sent / MPS if self.sent else float("inf")

    def show(self) -> None:
        print(
            f"{self.label:<34} sent={self.sent:<5} 130429s={self.throttled:<5} "
            f"failed={self.failed:<4} wall={self.wall:6.2f}s floor={self.floor:6.2f}s "
            f"wall/floor={self.wall / self.floor:5.3f} msgs/s={self.sent / self.wall:6.1f}",
            flush=True,
        )


def new_number(url: str) -> dict[str, Any]:
    response = requests.post(f"{url}/_emulator/numbers", json={"mps": MPS}, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def counted(url: str, number: dict[str, Any]) -> tuple[int, int]:
    found = requests.get(f"{url}/_emulator/stats", timeout=10).json()[number["phone_number_id"]]
    sent = requests.get(
        f"{url}/_emulator/messages",
        params={"phone_number_id": number["phone_number_id"]},
        timeout=30,
    ).json()["data"]
    return len(sent), int(found["throttled"])


def recipients(n: int, prefix: str) -> list[str]:
    return [f"57{prefix}{i:07d}" for i in range(n)]


def run_ours(url: str, n: int) -> Result:
    number = new_number(url)
    failed = 0

    async def job() -> None:
        nonlocal failed
        async with WhatsAppAsync(
            number["phone_number_id"], number["access_token"], api_url=url, throughput=MPS
        ) as client:

            async def one(to: str) -> None:
                nonlocal failed
                try:
                    await client.send_template(to, "hello_world", "en_US")
                except MimeiapifyError:
                    failed += 1

            await asyncio.gather(*(one(to) for to in recipients(n, "300")))

    started = time.perf_counter()
    asyncio.run(job())
    wall = time.perf_counter() - started
    sent, throttled = counted(url, number)
    return Result("ours (WhatsAppAsync)", sent, throttled, failed, wall)


def run_naive(url: str, n: int, workers: int = 50) -> Result:
    number = new_number(url)
    failed = 0
    endpoint = f"{url}/{VERSION}/{number['phone_number_id']}/messages"
    headers = {"Authorization": f"Bearer {number['access_token']}"}

    async def job() -> None:
        nonlocal failed
        queue: asyncio.Queue[str] = asyncio.Queue()
        for to in recipients(n, "310"):
            queue.put_nowait(to)
        async with aiohttp.ClientSession(headers=headers) as session:

            async def sender() -> None:
                nonlocal failed
                while not queue.empty():
                    to = queue.get_nowait()
                    body = {
                        "messaging_product": "whatsapp",
                        "recipient_type": "individual",
                        "to": to,
                        "type": "template",
                        "template": {"name": "hello_world", "language": {"code": "en_US"}},
                    }
                    for _ in range(10):
                        async with session.post(endpoint, json=body) as response:
                            answer = await response.json()
                        if response.status == 200:
                            break
                        if answer.get("error", {}).get("code") != 130429:
                            failed += 1
                            break
                        await asyncio.sleep(1.0)
                    else:
                        failed += 1

            await asyncio.gather(*(sender() for _ in range(workers)))

    started = time.perf_counter()
    asyncio.run(job())
    wall = time.perf_counter() - started
    sent, throttled = counted(url, number)
    return Result("anchor (aiohttp, naive retry)", sent, throttled, failed, wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 messages")
    args = parser.parse_args()
    n = 200 if args.quick else 1_000
    port = free_port()
    argv = [
        "python",
        "-m",
        "mimeiapify.testing.whatsapp",
        "--port",
        str(port),
        "--mps",
        str(MPS),
        "--deliver-seconds",
        "3600",
    ]
    with run_server(argv):
        url = f"http://127.0.0.1:{port}"
        print(
            f"whatsapp_throughput: {n:,} template messages to {n:,} recipients; emulator "
            f"{MPS} msg/s per number (130429 past it)",
            flush=True,
        )
        ours = run_ours(url, n)
        ours.show()
        anchor = run_naive(url, n)
        anchor.show()
    ok = ours.failed == 0 and ours.sent == n and ours.wall <= 1.10 * ours.floor
    print(
        f"targets: 0 errors, all sent, wall within 10% of the floor: {'met' if ok else 'NOT met'}"
    )
    ratio(
        "throughput (messages/s) WhatsAppAsync vs naive aiohttp",
        ours.sent / ours.wall,
        anchor.sent / anchor.wall,
        target=">= 1.0",
    )


if __name__ == "__main__":
    main()
