"""slack-connect's Paragon calls are traced: the real service (``slack_connect.cli
serve``, configured only by ``OTEL_*``) exporting OTLP/HTTP to a receiver of this test,
against the Paragon emulator. A request posted with a ``traceparent`` reaches the
emulator carrying the same trace, and the Paragon call is a client span of it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mimeia_telemetry.testing import OtlpReceiver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def traced(run_stack: Any) -> Iterator[tuple[Any, OtlpReceiver]]:
    otlp = OtlpReceiver()
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    try:
        with run_stack("traced", env) as stack:
            yield stack, otlp
    finally:
        otlp.close()


def test_a_sync_request_reaches_paragon_in_the_callers_trace(
    traced: tuple[Any, OtlpReceiver],
) -> None:
    stack, otlp = traced
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    org = f"org-{uuid.uuid4().hex[:10]}"
    headers = {**stack.admin(), "traceparent": f"00-{trace_id}-{caller}-01"}
    answer = httpx.post(f"{stack.service_url}/v1/orgs/{org}/sync", json={"what": ["channels"]},
                        headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.text

    runs = [r for r in httpx.get(f"{stack.emulator_url}/_emulator/runs").json()["runs"]
            if r["user"] == org]  # fmt: skip
    assert len(runs) == 1, runs
    _, seen_trace, seen_parent, _ = runs[0]["traceparent"].split("-")
    assert seen_trace == trace_id

    deadline = time.monotonic() + 20
    while not any(s.span_id == seen_parent for s in otlp.trace(trace_id)):
        assert time.monotonic() < deadline, otlp.spans
        time.sleep(0.1)
    spans = otlp.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    call = by_id[seen_parent]
    assert call.kind == 3 and call.service == "slack-connect", call  # CLIENT
    assert call.name == "POST"
    # the Paragon call sits (through any spans between) under the request's server span
    hop = call
    while hop.parent_id != caller:
        hop = by_id[hop.parent_id]
    assert hop.kind == 2 and hop.name.startswith("POST /v1/orgs/"), hop  # SERVER
