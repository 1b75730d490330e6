"""Workflows and beat under tracing, over real processes configured only by ``OTEL_*``
and exporting OTLP/HTTP to a receiver of this test: the API (``automation serve``), a
Celery worker, ``automation beat`` and a FlowMesh server.

* A workflow executed by a request keeps the request's trace in every step, also the
  steps after a ``delay`` that the scheduler tick resumes in a task of its own trace
  (``MAX_COUNTDOWN_SECONDS=0``: no broker countdown carries the trace along).
* Beat's publish of the scheduler tick is a producer span, and the worker's run of
  the tick is its child in the same trace."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from automation.webhooks.testing import scratch_database
from mimeia.testing import ServerProcess, free_port, run_server
from mimeia_telemetry.testing import OtlpReceiver, Span

pytestmark = pytest.mark.integration

TICK = "automation.scheduler_tick"


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def own_database(postgres_url: str) -> Iterator[str]:
    """The session's worker (with beat) ticks over the shared test database: it would
    resume this test's parked executions itself, outside the traced processes."""
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def stack(
    service_env: dict[str, str],
    own_database: str,
    redis_prefix: str,
    otlp: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, ServerProcess, ServerProcess]]:
    otel = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    state: Path = tmp_path_factory.mktemp("traced-workflows")
    mesh_port, api_port = free_port(), free_port()
    env = {
        **service_env,
        **otel,
        "DATABASE_URL": own_database,
        "CELERY_KEY_PREFIX": f"{redis_prefix}trwf-{uuid.uuid4().hex[:6]}:",
        "STATE_DIR": str(state),
        "FLOWMESH_URL": f"127.0.0.1:{mesh_port}",
        "MAX_COUNTDOWN_SECONDS": "0",  # every wait is resumed by the scheduler tick
    }
    flowmesh = ["python", "-m", "flowmesh", "serve", "--host", "127.0.0.1", "--port",
                str(mesh_port), "--store", f"sqlite:///{state}/mesh.db",
                "--log-format", "text"]  # fmt: skip
    api = ["python", "-m", "automation", "serve", "--host", "127.0.0.1",
           "--port", str(api_port), "--no-migrate"]  # fmt: skip
    worker = ["python", "-m", "automation", "worker", "-P", "threads", "-c", "2",
              "-n", f"trwf-{uuid.uuid4().hex[:8]}@%h", "-l", "INFO"]  # fmt: skip
    beat = ["python", "-m", "automation", "beat", "-l", "INFO"]
    with (
        run_server(flowmesh, env=env, timeout=60),
        run_server(api, env=env, timeout=60),
        run_server(worker, ready_text=" ready.", env=env, timeout=90) as worker_proc,
        run_server(beat, ready_text="beat: Starting", env=env, timeout=60) as beat_proc,
    ):
        yield f"http://127.0.0.1:{api_port}", env["FLOWMESH_URL"], worker_proc, beat_proc


def _wait_for(check: Callable[[], bool], why: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, why()
        time.sleep(0.1)


def _ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    out = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        out.append(span)
    return out


async def _event_headers(endpoint: str, tenant: str, stream: str) -> dict[str, str]:
    from flowmesh import FlowMesh

    async with FlowMesh(endpoint=endpoint) as fm:
        [message] = await fm.stream.read(tenant, "automation", stream, 0, 0, 1)
        return dict(message.headers)


def test_a_workflow_keeps_the_requests_trace_across_a_scheduled_resume(
    stack: tuple[str, str, ServerProcess, ServerProcess],
    otlp: OtlpReceiver,
    auth: dict[str, str],
    tenant: str,
) -> None:
    base, mesh, worker, _ = stack
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    stream = f"wf-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        created = http.post("/api/v1/workflows", json={"name": "traced", "steps": [
            {"id": "first", "type": "data_transform", "config": {"output": "{{ n }}"}},
            {"id": "wait", "type": "delay", "config": {"seconds": 0.5}},
            {"id": "publish", "type": "flowmesh_publish",
             "config": {"namespace": "automation", "name": stream,
                        "payload": {"n": "{{ steps.first.output }}"}}},
        ]})  # fmt: skip
        assert created.status_code == 201, created.text
        started = http.post(f"/api/v1/workflows/{created.json()['id']}/execute",
                            json={"input_data": {"n": 7}},
                            headers={"traceparent": f"00-{trace_id}-{caller}-01"})  # fmt: skip
        assert started.status_code == 202, started.text
        execution_id = started.json()["id"]

        def finished() -> bool:
            got = http.get(f"/api/v1/workflows/executions/{execution_id}").json()
            return bool(got["status"] in ("succeeded", "failed"))

        _wait_for(finished, lambda: worker.log[-3000:])
        done = http.get(f"/api/v1/workflows/executions/{execution_id}").json()
        assert done["status"] == "succeeded", done

    def steps() -> list[Span]:
        return [s for s in otlp.trace(trace_id) if s.name == "workflow.step"]

    names = {"flowmesh WriteEvents", "flowmesh.server WriteEvents"}
    # first, wait (parked), wait (resumed, done), publish
    _wait_for(lambda: len(steps()) >= 4 and names <= {s.name for s in otlp.trace(trace_id)},
              lambda: (sorted(s.name for s in otlp.trace(trace_id)),
                       worker.log[-3000:]))  # fmt: skip
    spans = otlp.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    server = next(s for s in spans if s.name.startswith("POST /api/v1/workflows/"))
    assert server.kind == 2 and server.parent_id == caller  # SERVER, continues the caller
    by_step: dict[str, list[Span]] = {}
    for s in steps():
        by_step.setdefault(str(s.attribute("step")), []).append(s)
    assert sorted((k, len(v)) for k, v in by_step.items()) == [
        ("first", 1), ("publish", 1), ("wait", 2)]  # fmt: skip
    assert {s.attribute("step.type") for s in steps()} == {"data_transform", "delay",
                                                           "flowmesh_publish"}  # fmt: skip
    # every step reaches back to the request's server span
    for s in steps():
        assert server in _ancestors(s, by_id), (s, spans)
    # the publish ran in a run the scheduler tick started (another trace): its step
    # span links to that run's span
    (publish,) = by_step["publish"]
    assert publish.links and all(t != trace_id for t, _ in publish.links), publish

    client = next(s for s in spans if s.name == "flowmesh WriteEvents")
    assert client.kind == 3 and publish in _ancestors(client, by_id)  # CLIENT
    stored = next(s for s in spans if s.name == "flowmesh.server WriteEvents")
    assert stored.kind == 2 and stored.parent_id == client.span_id
    headers = asyncio.run(_event_headers(mesh, tenant, stream))
    _, event_trace, event_parent, _ = headers["traceparent"].split("-")
    assert event_trace == trace_id and event_parent == client.span_id


def test_beats_tick_publish_parents_the_workers_run(
    stack: tuple[str, str, ServerProcess, ServerProcess], otlp: OtlpReceiver
) -> None:
    _, _, worker, beat = stack

    def pairs() -> list[tuple[Span, Span]]:
        spans = list(otlp.spans)
        # (the worker also sends one tick itself when it is ready: not beat's)
        published = {s.span_id: s for s in spans
                     if s.name == f"publish {TICK}" and s.service == "automation-beat"}  # fmt: skip
        return [(published[s.parent_id], s) for s in spans
                if s.name == f"run {TICK}" and s.parent_id in published]  # fmt: skip

    _wait_for(lambda: bool(pairs()), lambda: (sorted({s.name for s in otlp.spans}),
                                              beat.log[-2000:], worker.log[-2000:]))  # fmt: skip
    publish, run = pairs()[0]
    assert publish.kind == 4  # PRODUCER
    assert run.service == "automation-worker" and run.kind == 5  # CONSUMER
    assert run.trace_id == publish.trace_id
