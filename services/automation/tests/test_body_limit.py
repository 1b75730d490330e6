"""Issue 14.5: every request body is capped while it streams in (any content type,
any route, before auth), so an unauthenticated 1 GiB upload costs the API nothing."""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mimeia.testing import ServerProcess, free_port, run_server

pytestmark = pytest.mark.integration

GIB = 1024**3
CHUNK = 1024 * 1024
RSS_BUDGET = 50 * 1024 * 1024


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Upload:
    status: int
    headers: dict[str, str]
    body: dict[str, object]
    sent: int
    seconds: float
    rss_growth: int


def stream_upload(port: int, pid: int, path: str, content_type: str, total: int) -> Upload:
    """POST ``total`` bytes with chunked transfer encoding over a raw socket, a chunk at
    a time, stopping as soon as the server answers. Fails (instead of eating the
    machine's memory) once the server grows past the budget."""
    baseline = rss(pid)
    peak = baseline
    started = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    frame = f"{CHUNK:x}\r\n".encode() + b"a" * CHUNK + b"\r\n"
    sent = 0
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
            if sent % (16 * CHUNK) == 0:
                peak = max(peak, rss(pid))
                assert peak - baseline < RSS_BUDGET, (
                    f"the API grew {(peak - baseline) >> 20} MiB after {sent >> 20} MiB sent"
                )
        else:
            sock.sendall(b"0\r\n\r\n")
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            response += data
    finally:
        sock.close()
    seconds = time.perf_counter() - started
    peak = max(peak, rss(pid))
    head, _, payload = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(h.lower().split(": ", 1) for h in header_lines)
    status = int(status_line.split(" ", 2)[1])
    return Upload(status, headers, json.loads(payload or b"{}"), sent, seconds, peak - baseline)


@pytest.fixture(scope="module")
def api(service_env: dict[str, str]) -> Iterator[tuple[int, ServerProcess]]:
    port = free_port()
    argv = ["python", "-m", "automation", "serve", "--no-migrate", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    with run_server(argv, env=service_env, timeout=60) as server:
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)  # warm up before measuring
        yield port, server


def test_a_1_gib_text_upload_to_a_webhook_is_refused_while_it_streams(api) -> None:
    port, server = api
    path = f"/api/v1/hooks/workflows/{uuid.uuid4()}/x"
    upload = stream_upload(port, server.process.pid, path, "text/plain", GIB)
    print(f"\nwebhook 1 GiB text/plain: {upload.status} after {upload.sent >> 20} MiB sent, "
          f"{upload.seconds:.2f}s, API RSS +{upload.rss_growth / 2**20:.1f} MiB")  # fmt: skip
    assert upload.status == 413
    assert upload.body == {"detail": "body: larger than 2097152 bytes"}
    assert upload.headers["connection"] == "close"  # the rest is not read
    assert upload.rss_growth < RSS_BUDGET
    assert upload.sent < 64 * CHUNK  # refused near the cap, not at the end


def test_a_declared_huge_length_is_refused_before_any_byte(api) -> None:
    port, _ = api
    for content_type in ("application/octet-stream", "application/json"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"PUT /api/v1/workflows/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                f"{content_type}\r\nContent-Length: {GIB}\r\n\r\n".encode()
            )
            head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 413 "), head


def test_the_wompi_route_is_capped_at_its_own_limit_before_reading(api, service_env) -> None:
    port, server = api
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    headers = {"X-Internal-API-Key": service_env["INTERNAL_API_KEY"], "X-Tenant-ID": tenant}
    base = f"http://127.0.0.1:{port}/api/v1/integrations/wompi"
    configured = httpx.put(f"{base}/settings", json={"events_secret": "s3cret-events"},
                           headers=headers, timeout=10)  # fmt: skip
    assert configured.status_code == 204, configured.text
    path = f"/api/v1/integrations/wompi/{tenant}/events"
    upload = stream_upload(port, server.process.pid, path, "text/plain", GIB)
    print(f"\nwompi 1 GiB text/plain: {upload.status} after {upload.sent >> 20} MiB sent, "
          f"{upload.seconds:.2f}s, API RSS +{upload.rss_growth / 2**20:.1f} MiB")  # fmt: skip
    assert upload.status == 413
    assert upload.body == {"detail": "body: larger than 1048576 bytes"}
    assert upload.rss_growth < RSS_BUDGET
    assert upload.sent < 64 * CHUNK
