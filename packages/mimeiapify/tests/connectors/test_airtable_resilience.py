"""Rate-limit penalty, retries with backoff, and writes whose outcome is unknown.

Real servers on loopback: the emulator with a short penalty, and a scripted
HTTP server that answers 503, drops the connection, or stalls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from mimeia.testing import free_port, run_server
from mimeiapify import (
    CONNECTOR_RETRY,
    Airtable,
    AirtableAsync,
    AirtableConnectionError,
    AirtableOutcomeUnknownError,
    AirtableRateLimitError,
    AirtableServerError,
)

pytestmark = pytest.mark.integration
KEY = "pat_emulator_token"
BASE = "appRESILIENCE0001"
FAST = dataclasses.replace(CONNECTOR_RETRY, max_attempts=3, base_delay=0.01, max_delay=0.05)


class Scripted(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script  # one behaviour per request; the last one repeats
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v0"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append(self.command)
        script = self.server.script
        action = script.pop(0) if len(script) > 1 else script[0]
        if action == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if action == "stall":
            time.sleep(1.0)
        status = 503 if action == "503" else 200
        body = (
            {"error": {"type": "SERVICE_UNAVAILABLE", "message": "try later"}}
            if status == 503
            else {"records": [{"id": "rec" + "A" * 14, "createdTime": "x", "fields": {}}]}
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[Scripted] = []

    def start(*script: str) -> Scripted:
        server = Scripted(list(script))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_reads_retry_5xx_then_succeed(scripted: Any) -> None:
    server = scripted("503", "503", "ok")
    with Airtable(BASE, KEY, api_url=server.url, retry=FAST) as at:
        assert len(at.fetch_records("Tasks")) == 1
    assert server.seen == ["GET", "GET", "GET"]


def test_reads_give_up_with_a_typed_error(scripted: Any) -> None:
    server = scripted("503")
    with (
        Airtable(BASE, KEY, api_url=server.url, retry=FAST) as at,
        pytest.raises(AirtableServerError) as failed,
    ):
        at.fetch_records("Tasks")
    assert failed.value.status == 503 and failed.value.error_type == "SERVICE_UNAVAILABLE"
    assert server.seen == ["GET"] * 3


def test_create_is_not_resent_after_a_5xx(scripted: Any) -> None:
    server = scripted("ok", "503")
    records = [{"Name": f"r{i}"} for i in range(15)]
    with (
        Airtable(BASE, KEY, api_url=server.url, retry=FAST) as at,
        pytest.raises(AirtableOutcomeUnknownError) as unknown,
    ):
        at.create_records("Tasks", records)
    assert server.seen == ["POST", "POST"]  # first batch written, second sent once
    assert unknown.value.status == 503
    assert len(unknown.value.payload["created"]) == 1  # what the first batch returned
    assert [r["fields"]["Name"] for r in unknown.value.payload["in_doubt"]] == [
        f"r{i}" for i in range(10, 15)
    ]


def test_upsert_is_retried_because_it_is_idempotent(scripted: Any) -> None:
    server = scripted("drop", "ok")
    with Airtable(BASE, KEY, api_url=server.url, retry=FAST) as at:
        result = at.update_multiple_records(
            "Tasks", [{"fields": {"Name": "x"}}], perform_upsert=True, fields_to_merge_on=["Name"]
        )
    assert len(result["records"]) == 1 and server.seen == ["PATCH", "PATCH"]


async def test_async_create_on_dropped_connection_is_not_resent(scripted: Any) -> None:
    server = scripted("drop")
    async with AirtableAsync(BASE, KEY, api_url=server.url, retry=FAST) as at:
        with pytest.raises(AirtableOutcomeUnknownError):
            await at.create_records("Tasks", [{"Name": "once"}])
        with pytest.raises(AirtableConnectionError):
            await at.fetch_records("Tasks")
    assert server.seen[0] == "POST" and server.seen.count("POST") == 1
    # three attempts of ours; aiohttp itself may re-send an idempotent GET once per
    # attempt when a pooled keep-alive connection turns out to be dead
    assert server.seen.count("GET") in (3, 6)


async def test_timeouts_count_as_unknown_for_creates(scripted: Any) -> None:
    server = scripted("stall")
    async with AirtableAsync(BASE, KEY, api_url=server.url, retry=FAST, timeout=0.3) as at:
        with pytest.raises(AirtableOutcomeUnknownError):
            await at.create_records("Tasks", [{"Name": "slow"}])
    with (
        Airtable(BASE, KEY, api_url=server.url, retry=FAST, timeout=0.3) as sync_at,
        pytest.raises(AirtableOutcomeUnknownError),
    ):
        sync_at.create_records("Tasks", [{"Name": "slow"}])
    assert server.seen == ["POST", "POST"]


@pytest.mark.parametrize("client", ["sync", "async"])
def test_unreachable_server(client: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/v0"  # nothing listens there
    if client == "sync":
        with (
            Airtable(BASE, KEY, api_url=url, retry=FAST) as at,
            pytest.raises(AirtableConnectionError, match="could not reach"),
        ):
            at.create_records("Tasks", [{"Name": "x"}])  # refused: safe to retry
    else:

        async def go() -> None:
            at = AirtableAsync(BASE, KEY, api_url=url, retry=FAST)
            with pytest.raises(AirtableConnectionError) as failed:
                await at.create_records("Tasks", [{"Name": "x"}])
            assert not isinstance(failed.value, AirtableOutcomeUnknownError)

        asyncio.run(go())


@pytest.fixture(scope="module")
def short_penalty_emulator() -> Iterator[str]:
    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.airtable", "--host", "127.0.0.1",
            "--port", str(port), "--rate-limit", "5", "--penalty-seconds", "1"]  # fmt: skip
    with run_server(argv):
        yield f"http://127.0.0.1:{port}"


def _new_base(url: str) -> str:
    response = requests.post(
        f"{url}/v0/meta/bases",
        json={
            "name": "b",
            "tables": [{"name": "T", "fields": [{"name": "Name", "type": "singleLineText"}]}],
        },
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )  # fmt: skip
    return str(response.json()["id"])


async def test_a_429_waits_the_penalty_and_retries(short_penalty_emulator: str) -> None:
    base_id = _new_base(short_penalty_emulator)
    # a client told the base allows 50 req/s bursts past the real limit of 5
    greedy = AirtableAsync(
        base_id, KEY, api_url=f"{short_penalty_emulator}/v0", rate_limit=50, rate_limit_penalty=1.1
    )
    started = time.monotonic()
    results = await asyncio.gather(*(greedy.fetch_records("T", raw=True) for _ in range(12)))
    elapsed = time.monotonic() - started
    assert results == [[]] * 12
    stats = requests.get(f"{short_penalty_emulator}/_emulator/stats", timeout=5).json()[base_id]
    assert stats["rate_limited"] >= 1
    assert elapsed >= 1.0  # it sat out the penalty instead of hammering

    stubborn = AirtableAsync(
        base_id, KEY, api_url=f"{short_penalty_emulator}/v0", rate_limit=50,
        retry=dataclasses.replace(CONNECTOR_RETRY, max_rate_limit_retries=0),
    )  # fmt: skip
    with pytest.raises(AirtableRateLimitError) as limited:
        await asyncio.gather(*(stubborn.fetch_records("T") for _ in range(12)))
    assert limited.value.status == 429 and limited.value.error_type == "RATE_LIMIT_REACHED"


def test_default_pacing_never_trips_the_limit(short_penalty_emulator: str) -> None:
    base_id = _new_base(short_penalty_emulator)

    async def burst() -> None:
        at = AirtableAsync(base_id, KEY, api_url=f"{short_penalty_emulator}/v0")
        await asyncio.gather(*(at.fetch_records("T") for _ in range(20)))

    asyncio.run(burst())
    stats = requests.get(f"{short_penalty_emulator}/_emulator/stats", timeout=5).json()[base_id]
    assert stats == {"requests": 20, "rate_limited": 0}


async def test_cancelled_requests_give_their_turn_back(base: dict[str, Any]) -> None:
    async with AirtableAsync(base["id"], KEY) as at:
        doomed = [asyncio.create_task(at.fetch_records("Tasks")) for _ in range(15)]
        await asyncio.sleep(0.05)
        for task in doomed:
            task.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
        # had a cancelled request kept its place, this would wait for it forever
        assert await asyncio.wait_for(at.fetch_records("Tasks", True), timeout=5) == {"records": []}
