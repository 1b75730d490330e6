"""The flowmesh command: serve (signals, metrics, logs), admin commands, `mimeia up` entry."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from flowmesh import Event, FlowMesh, RetryPolicy
from flowmesh.server.app import open_store
from mimeia import Address, discover_services
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration


def admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowmesh", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


async def test_serve_warns_when_open_logs_json_and_exits_cleanly_on_sigterm(tmp_path: Path):
    port = free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--port", str(port),
            "--store", f"sqlite:///{tmp_path}/fm.db"]  # fmt: skip
    with run_server(argv) as server:
        assert server.ready_line == f"listening on 127.0.0.1:{port}"
        assert "running OPEN" in server.log
        records = [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]
        assert any(r["msg"] == "server started" and r["store"] == "sqlite" for r in records)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
    assert (tmp_path / "fm.db").exists()


async def test_default_store_is_under_dot_mimeia(tmp_path: Path):
    port = free_port()
    with run_server(["python", "-m", "flowmesh", "serve", "--port", str(port)], cwd=str(tmp_path)):
        pass
    assert (tmp_path / ".mimeia" / "flowmesh.db").exists()


async def test_bad_store_url_is_refused(tmp_path: Path):
    result = admin("serve", "--port", str(free_port()), "--store", "mysql://x")
    assert result.returncode == 2 and "unsupported scheme 'mysql'" in result.stderr


def test_bad_cluster_store_urls_are_refused_naming_the_part() -> None:
    with pytest.raises(ValueError, match="replicas must be a whole number"):
        open_store("redis+cluster://127.0.0.1:7000?replicas=two")
    with pytest.raises(ValueError, match="only database 0"):
        open_store("redis+cluster://127.0.0.1:7000/3")


async def test_admin_commands(tmp_path: Path, serve_cmd: Callable[..., list[str]]):
    port = free_port()
    endpoint = f"127.0.0.1:{port}"
    metrics_port = free_port()
    argv = serve_cmd(port, f"sqlite:///{tmp_path}/fm.db", "--metrics-port", str(metrics_port))
    with run_server(argv):
        async with FlowMesh(endpoint) as c:
            await c.queue.set_retry_policy("acme", "ns", "q", RetryPolicy(max_attempts=1))
            await c.queue.enqueue("acme", "ns", "q", b"doomed")
            job = await c.queue.reserve("acme", "ns", "q")
            assert job is not None
            await c.queue.nack("acme", "ns", "q", job.id, error="bad input")
            await c.queue.enqueue("acme", "ns", "q", b"waiting")
            await c.stream.write("acme", "ns", "s", [Event(payload=b"one"), Event(payload=b"two")])

        stats = admin("queue-stats", "acme", "ns", "q", "--endpoint", endpoint)
        assert stats.returncode == 0, stats.stderr
        ages = {"oldest_pending_age_ms": 0, "oldest_job_age_seconds": 0}
        assert json.loads(stats.stdout) | ages == {
            "total_jobs": 2, "pending_jobs": 1, "delayed_jobs": 0, "in_flight_jobs": 0,
            "dlq_jobs": 1, "completed_jobs": 0, "failed_jobs": 1, **ages,
        }  # fmt: skip

        dlq = admin("dlq-list", "acme", "ns", "q", "--endpoint", endpoint)
        [entry] = [json.loads(line) for line in dlq.stdout.splitlines()]
        assert (entry["payload"], entry["last_error"], entry["attempts"]) == (
            "doomed",
            "bad input",
            1,
        )

        tail = admin(
            "tail", "acme", "ns", "s", "--from-start", "--count", "2", "--endpoint", endpoint
        )
        assert [json.loads(line)["payload"] for line in tail.stdout.splitlines()] == ["one", "two"]

        missing = admin("queue-stats", "acme", "ns", "nope", "--endpoint", endpoint)
        assert missing.returncode == 1 and "FlowMeshNotFoundError" in missing.stderr

        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
        metrics = text.decode()
        assert 'flowmesh_requests_total{code="OK",method="queue.enqueue"} 2.0' in metrics
        assert 'flowmesh_requests_total{code="NOT_FOUND",method="queue.get_stats"} 1.0' in metrics
        assert "flowmesh_request_seconds_bucket" in metrics
        assert (
            'flowmesh_queue_jobs{namespace="ns",queue="q",state="dlq",tenant="acme"} 1.0' in metrics
        )

    unreachable = admin("queue-stats", "acme", "ns", "q", "--connect-timeout", "1",
                        "--endpoint", f"127.0.0.1:{free_port()}")  # fmt: skip
    assert unreachable.returncode == 1 and "FlowMeshConnectionError" in unreachable.stderr


async def test_registered_for_mimeia_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    [spec] = [s for s in discover_services() if s.name == "flowmesh"]
    assert (spec.default_port, spec.scheme) == (50051, "grpc")
    port, http_port = free_port(), free_port()
    monkeypatch.setenv("MIMEIA_FLOWMESH_HTTP_PORT", str(http_port))
    argv = spec.argv({"flowmesh": Address("127.0.0.1", port)}, str(tmp_path))
    assert argv[argv.index("--store") + 1] == f"sqlite:///{tmp_path.resolve()}/flowmesh/flowmesh.db"
    assert argv[argv.index("--http-addr") + 1] == f"127.0.0.1:{http_port}"
    with run_server(argv, ready_text=spec.ready_text):
        async with FlowMesh(f"127.0.0.1:{port}") as c:
            assert await c.readiness_check()
        async with httpx.AsyncClient(timeout=10) as http:
            health = await http.get(f"http://127.0.0.1:{http_port}/health")
        assert health.json()["status"]["message"] == "ok"
    assert (tmp_path / "flowmesh" / "flowmesh.db").exists()


async def test_unreachable_redis_store_is_a_clear_startup_error():
    result = admin("serve", "--port", str(free_port()), "--store",
                   f"redis://127.0.0.1:{free_port()}/0")  # fmt: skip
    assert result.returncode == 2 and "flowmesh serve: ConnectionError" in result.stderr
