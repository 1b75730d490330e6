"""One OpenTelemetry trace through the real processes: the API (``automation serve``)
and a Celery worker (prefork, so each pool child sets up its own exporter), both
configured only by ``OTEL_*`` variables and exporting over OTLP/HTTP to a receiver
of this test that decodes the protobuf. An event posted with a ``traceparent``
yields one trace: the API request, the Celery publish/run of the event task, the
rule evaluation, the HTTP step's and the webhook's client spans, the FlowMesh publish
(its context in the event's headers); the receivers see the same trace id in their
``traceparent`` header; log lines carry the ids."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from automation.webhooks.testing import Receiver, scratch_database
from mimeia.testing import ServerProcess, free_port, run_server
from mimeia_telemetry.testing import OtlpReceiver

TRACE_ID = uuid.uuid4().hex
CALLER_SPAN = uuid.uuid4().hex[:16]


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def hook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def traced_env(
    service_env: dict[str, str], postgres_url: str, redis_prefix: str, otlp: OtlpReceiver
) -> Iterator[dict[str, str]]:
    # a database of its own: the session's worker (with beat) sweeps the shared one and
    # could claim this test's webhook message first, under its own settings
    with scratch_database(postgres_url) as database_url:
        yield _traced_env(service_env, database_url, redis_prefix, otlp)


def _traced_env(
    service_env: dict[str, str], database_url: str, redis_prefix: str, otlp: OtlpReceiver
) -> dict[str, str]:
    return {
        **service_env,
        "DATABASE_URL": database_url,
        "CELERY_KEY_PREFIX": f"{redis_prefix}tracing-{uuid.uuid4().hex[:6]}:",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


@pytest.fixture(scope="module")
def traced_processes(
    traced_env: dict[str, str],
) -> Iterator[tuple[str, ServerProcess, ServerProcess]]:
    port = free_port()
    api_argv = ["python", "-m", "automation", "serve", "--host", "127.0.0.1",
                "--port", str(port), "--no-migrate"]  # fmt: skip
    worker_argv = ["python", "-m", "automation", "worker", "-P", "prefork", "-c", "1",
                   "-n", f"tracing-{uuid.uuid4().hex[:8]}@%h", "-l", "INFO"]  # fmt: skip
    with (
        run_server(api_argv, env=traced_env, timeout=60) as api,
        run_server(worker_argv, ready_text=" ready.", env=traced_env, timeout=90) as worker,
    ):
        yield f"http://127.0.0.1:{port}", api, worker


def _wait_for(
    check: Callable[[], bool], timeout: float = 40, why: Callable[[], object] = lambda: ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in time: {why()}")


def _json_lines(proc: ServerProcess) -> list[dict[str, Any]]:
    out = []
    for line in proc.output:
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


async def _event_headers(endpoint: str, tenant: str, stream: str) -> dict[str, str]:
    from flowmesh import FlowMesh

    async with FlowMesh(endpoint=endpoint) as fm:
        [message] = await fm.stream.read(tenant, "automation", stream, 0, 0, 1)
        return dict(message.headers)


def test_one_trace_from_the_api_through_the_worker_to_the_webhook(
    traced_processes: tuple[str, ServerProcess, ServerProcess],
    otlp: OtlpReceiver,
    hook_receiver: Receiver,
    recorder: Any,
    auth: dict[str, str],
    tenant: str,
    flowmesh_endpoint: str,
) -> None:
    base, api, worker = traced_processes
    step_path = f"/ok/{uuid.uuid4().hex}"
    stream = f"traced-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        endpoint = http.post("/api/v1/webhooks/endpoints",
                             json={"url": hook_receiver.url(), "events": ["order.*"]})  # fmt: skip
        assert endpoint.status_code == 201, endpoint.text
        rule = http.post("/api/v1/automation/rules", json={
            "name": "traced", "trigger": {"type": "event", "event_type": "order.paid"},
            "conditions": [{"field": "total", "operator": "greater_than", "value": 10}],
            "actions": [
                {"type": "http_request", "url": recorder.url(step_path), "method": "POST",
                 "json": {"total": "{{total}}"}},
                {"type": "webhook", "event_type": "order.paid", "payload": {"total": 50}},
                {"type": "flowmesh_publish", "namespace": "automation", "name": stream,
                 "payload": {"total": "{{total}}"}},
            ],
        })  # fmt: skip
        assert rule.status_code == 201, rule.text
        traceparent = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
        posted = http.post("/api/v1/events", headers={"traceparent": traceparent},
                           json={"event_type": "order.paid", "data": {"total": 50}})  # fmt: skip
        assert posted.status_code == 202, posted.text

    _wait_for(
        lambda: len(hook_receiver.received) >= 1 and recorder.count(step_path) >= 1,
        why=lambda: (f"webhooks received {len(hook_receiver.received)}, step calls "
                     f"{recorder.count(step_path)}; worker output:\n"
                     + "\n".join(list(worker.output)[-40:])),
    )  # fmt: skip
    names = {
        "POST /api/v1/events",
        "publish automation.process_event",
        "run automation.process_event",
        "rule.evaluate",
        "run automation.webhooks.deliver_message",
        "flowmesh WriteEvents",
    }
    _wait_for(lambda: names <= {s.name for s in otlp.trace(TRACE_ID)}
              and sum(s.name == "POST" for s in otlp.trace(TRACE_ID)) >= 2,
              why=lambda: (otlp.spans, api.log[-2000:], worker.log[-4000:]))  # fmt: skip
    spans = otlp.trace(TRACE_ID)
    by_id = {s.span_id: s for s in spans}
    assert otlp.content_types == {"application/x-protobuf"}

    server = next(s for s in spans if s.name == "POST /api/v1/events")
    assert server.parent_id == CALLER_SPAN and server.kind == 2  # SERVER, continues the caller
    assert server.service == "automation-api"
    evaluate = next(s for s in spans if s.name == "rule.evaluate")
    assert evaluate.service == "automation-worker"
    # rule.evaluate sits under the task run, which sits under the API's publish
    run = by_id[evaluate.parent_id]
    assert run.name == "run automation.process_event" and run.kind == 5  # CONSUMER
    assert by_id[run.parent_id].name == "publish automation.process_event"
    assert by_id[by_id[run.parent_id].parent_id] == server

    # every span of the trace reaches back to the API request: one trace, no orphans
    for s in spans:
        hop = s
        while hop.parent_id != CALLER_SPAN:
            hop = by_id[hop.parent_id]
    clients = [s for s in spans if s.name == "POST" and s.kind == 3]  # CLIENT
    assert len(clients) == 2

    # the receivers saw the same trace, each with its client span as parent
    (got,) = hook_receiver.received
    _, hook_trace, hook_parent, _ = got.headers["traceparent"].split("-")
    assert hook_trace == TRACE_ID
    assert by_id[hook_parent].name == "POST" and by_id[hook_parent].kind == 3
    # the POST sits in the delivery's attempt span, under the task the rule queued
    attempt = by_id[by_id[hook_parent].parent_id]
    assert attempt.name == "webhook.attempt" and attempt.attributes["attempt"] == 1
    assert by_id[attempt.parent_id].name == "run automation.webhooks.deliver_message"
    step_headers = {k.lower(): v for k, v in recorder.hits[step_path][0]["headers"].items()}
    _, step_trace, step_parent, _ = step_headers["traceparent"].split("-")
    assert step_trace == TRACE_ID and by_id[by_id[step_parent].parent_id] == evaluate

    # the FlowMesh publish: a client span under rule.evaluate, its context in the event
    publish = next(s for s in spans if s.name == "flowmesh WriteEvents")
    assert publish.kind == 3 and by_id[publish.parent_id] == evaluate
    headers = asyncio.run(_event_headers(flowmesh_endpoint, tenant, stream))
    _, event_trace, event_parent, _ = headers["traceparent"].split("-")
    assert event_trace == TRACE_ID and event_parent == publish.span_id

    # log lines written inside the trace carry its ids, in both processes
    api_lines = [x for x in _json_lines(api) if x.get("trace_id") == TRACE_ID]
    assert any(x["logger"] == "automation.access" and x["span_id"] == server.span_id
               for x in api_lines), api.log[-3000:]  # fmt: skip
    worker_lines = [x for x in _json_lines(worker) if x.get("trace_id") == TRACE_ID]
    assert worker_lines and all(x["span_id"] in by_id for x in worker_lines), worker.log[-3000:]
    print("\ntrace", TRACE_ID, "spans:", sorted(f"{s.service}:{s.name}" for s in spans))
