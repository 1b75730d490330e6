"""Issue 14, items 1, 2, 7 and 8, reproduced from outside: through the API (in
process, so a render on the event loop would stall ``/health`` in the same loop)
and a real worker process."""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

SLOW = (  # within every size limit, but ~2 ms of CPU per iteration
    "{% set s = 'x' * 1000000 %}"
    "{% for i in range(100000) %}{% if 'yx' in s %}{% endif %}{% endfor %}done"
)


async def _with_health(
    client: httpx.AsyncClient, call: Awaitable[httpx.Response]
) -> tuple[httpx.Response, float, float]:
    """Run ``call`` while polling /health; (its response, its seconds, the slowest
    /health answer meanwhile)."""
    task = asyncio.ensure_future(call)
    started = time.perf_counter()
    slowest = 0.0
    await asyncio.sleep(0.01)  # let the call start
    while True:  # at least once, while the call runs
        asked = time.perf_counter()
        assert (await client.get("/health")).status_code == 200
        slowest = max(slowest, time.perf_counter() - asked)
        if task.done():
            break
        await asyncio.sleep(0.05)
    response = await task
    return response, time.perf_counter() - started, slowest


async def test_huge_power_in_a_workflow_is_refused_at_once_and_health_answers(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = {"name": "pow", "steps": [
        {"id": "a", "type": "data_transform", "config": {"output": "{{ 9**(9**8) }}"}},
    ]}  # fmt: skip
    response, elapsed, slowest = await _with_health(
        client, client.post("/api/v1/workflows", json=body, headers=auth)
    )
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]["problems"]
    assert any(p.startswith("steps[0].config.output: template would exceed") for p in problems)
    assert elapsed < 3.0 and slowest < 1.0, (elapsed, slowest)  # main: 99 s, both
    print(f"\n[14.1] 9**(9**8) workflow create: {response.status_code} in {elapsed * 1000:.0f} ms,"
          f" slowest /health meanwhile {slowest * 1000:.0f} ms")  # fmt: skip


async def _template(client: httpx.AsyncClient, auth: dict[str, str], body: str) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    template = {"name": name, "channel": "email", "subject": "s", "body": body}
    response = await client.post("/api/v1/notifications/templates", json=template, headers=auth)
    assert response.status_code == 201, response.text
    return name


async def test_preview_runs_off_the_loop_and_stops_at_its_limits(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    nested = await _template(
        client, auth, "{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}"
    )
    slow = await _template(client, auth, SLOW)
    for name, data, limit, message in [
        (nested, {"n": 15000}, 3.0, "more than 100000 loop iterations"),
        (slow, {}, 4.0, "took longer than 2s"),
    ]:
        response, elapsed, slowest = await _with_health(client, client.post(
            f"/api/v1/notifications/templates/{name}/preview",
            json={"template_data": data}, headers=auth,
        ))  # fmt: skip
        assert response.status_code == 422, response.text
        problem = response.json()["detail"]["problems"][0]
        assert problem["field"] == "body" and message in problem["message"], problem
        assert elapsed < limit and slowest < 1.0, (name, elapsed, slowest)
        print(f"\n[14.2] preview ({message}): {response.status_code} in {elapsed * 1000:.0f} ms,"
              f" slowest /health meanwhile {slowest * 1000:.0f} ms")  # fmt: skip


@pytest.mark.parametrize(
    "body", ["{{ ([('x'*1000000)]*400)|join|length }}", "{{ 'x'.ljust(10**7)|length }}"]
)
async def test_preview_cannot_grow_memory(
    client: httpx.AsyncClient, auth: dict[str, str], body: str
) -> None:
    name = await _template(client, auth, body)
    tracemalloc.start()
    started = time.perf_counter()
    response = await client.post(f"/api/v1/notifications/templates/{name}/preview",
                                 json={"template_data": {}}, headers=auth)  # fmt: skip
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code == 422, response.text
    assert "longer than 1000000" in response.json()["detail"]["problems"][0]["message"]
    assert peak < 32 * 2**20, peak
    print(f"\n[14.2] preview {body}: {response.status_code} in {elapsed * 1000:.0f} ms,"
          f" peak allocated {peak / 2**20:.1f} MiB")  # fmt: skip


async def _workflow(
    client: httpx.AsyncClient, headers: dict[str, str], step: dict[str, Any]
) -> str:
    response = await client.post(
        "/api/v1/workflows", json={"name": "wf", "steps": [step]}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _execute(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, data: dict[str, Any]
) -> str:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/execute",
                                 json={"input_data": data}, headers=headers)  # fmt: skip
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_step_timeout_stops_template_cpu_and_other_tenants_go_on(
    client: httpx.AsyncClient,
    internal_headers: Callable[[str], dict[str, str]],
    worker: Any,
    wait_execution: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    tenant_a, tenant_b = (internal_headers(f"t-{uuid.uuid4().hex[:10]}") for _ in range(2))
    loop_225m = await _workflow(client, tenant_a, {
        "id": "spin", "type": "data_transform", "timeout_seconds": 1,
        "config": {"output": "{% for i in range(input.n) %}{% for j in range(input.n) %}"
                             "{% endfor %}{% endfor %}"}})  # fmt: skip
    slow = await _workflow(
        client,
        tenant_a,
        {"id": "spin", "type": "data_transform", "timeout_seconds": 1, "config": {"output": SLOW}},
    )
    trivial = await _workflow(
        client,
        tenant_b,
        {"id": "hi", "type": "data_transform", "config": {"output": "{{ input.n + 1 }}"}},
    )
    # warm up: the trivial workflow alone
    started = time.perf_counter()
    await wait_execution(client, tenant_b, await _execute(client, tenant_b, trivial, {"n": 1}))
    alone = time.perf_counter() - started

    started = time.perf_counter()
    runs = [await _execute(client, tenant_a, loop_225m, {"n": 15000}),
            await _execute(client, tenant_a, slow, {})]  # fmt: skip
    other = await _execute(client, tenant_b, trivial, {"n": 1})
    done_other = await wait_execution(client, tenant_b, other, timeout=60)
    other_seconds = time.perf_counter() - started
    done = [await wait_execution(client, tenant_a, r, timeout=60) for r in runs]
    attack_seconds = time.perf_counter() - started

    assert done_other["status"] == "succeeded" and done_other["steps"][0]["output"] == 2
    assert done[0]["status"] == "failed"
    assert "more than 100000 loop iterations" in done[0]["steps"][0]["error"]
    assert done[1]["status"] == "failed"
    assert "took longer than 1s" in done[1]["steps"][0]["error"]
    assert attack_seconds < 8.0 and other_seconds < alone + 3.0, (attack_seconds, other_seconds)
    print(f"\n[14.7] 225M loop and slow template (timeout_seconds 1): failed in"
          f" {attack_seconds:.2f} s; other tenant's trivial workflow {other_seconds:.2f} s"
          f" (alone {alone:.2f} s)")  # fmt: skip


# -- item 8: a huge response -------------------------------------------------------

HUGE = 800 * 2**20
CHUNK = b"x" * 2**20


class _Huge(BaseHTTPRequestHandler):
    sent: dict[str, int] = {}

    def log_message(self, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        sent = 0
        try:
            while sent < HUGE:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except OSError:
            pass  # the client stopped reading
        finally:
            _Huge.sent[self.path] = sent


@pytest.fixture
def huge_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Huge)
    server.daemon_threads = True
    runner = threading.Thread(target=server.serve_forever, daemon=True)
    runner.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_http_step_stops_reading_at_the_limit(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Any,
    huge_server: str,
    wait_execution: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    path = f"/{uuid.uuid4().hex}"
    workflow = await _workflow(client, auth, {
        "id": "get", "type": "http_request",
        "config": {"url": huge_server + path, "timeout_seconds": 60}})  # fmt: skip
    before = _peak_rss_mib(worker.process.pid)
    started = time.perf_counter()
    done = await wait_execution(
        client, auth, await _execute(client, auth, workflow, {}), timeout=120
    )
    elapsed = time.perf_counter() - started
    after = _peak_rss_mib(worker.process.pid)
    step = done["steps"][0]
    # the step read 1 MB and stopped (its 1 MB of text is then over the output limit)
    assert "output is larger than 1000000 bytes" in (step["error"] or ""), step
    assert _Huge.sent[path] < HUGE // 4, _Huge.sent[path]
    assert after - before < 100, (before, after)
    wrote = _Huge.sent[path] / 2**20
    print(f"\n[14.8] 800 MiB response: step {step['status']} in {elapsed:.2f} s; worker peak RSS"
          f" {before:.0f} -> {after:.0f} MiB; server wrote {wrote:.0f} MiB")  # fmt: skip
