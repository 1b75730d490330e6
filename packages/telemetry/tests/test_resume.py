"""Keeping a trace across stored work: ``current_traceparent()`` to store with a row,
``resume(stored, name)`` around each later attempt. Tracing on runs in a child process
(this one keeps tracing off) exporting over OTLP/HTTP to a receiver decoding protobuf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from mimeia_telemetry import tracing
from mimeia_telemetry.testing import OtlpReceiver, Span

STORED_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
STORED_SPAN = "00f067aa0ba902b7"
STORED = f"00-{STORED_TRACE}-{STORED_SPAN}-01"


def test_parse_traceparent_takes_version_00_only() -> None:
    assert tracing.parse_traceparent(STORED) == (int(STORED_TRACE, 16), int(STORED_SPAN, 16), 1)
    assert len(STORED) == tracing.TRACEPARENT_LENGTH
    for bad in (
        None,
        "",
        STORED.upper(),  # the spec's hex is lower case
        STORED.replace("00-", "01-", 1),
        f"00-{'0' * 32}-{STORED_SPAN}-01",  # all-zero ids are invalid
        f"00-{STORED_TRACE}-{'0' * 16}-01",
        STORED + "-extra",
        STORED[:-1],
        f"00-{STORED_TRACE}-{STORED_SPAN}-0g",
        " " + STORED,
    ):
        assert tracing.parse_traceparent(bad) is None, bad


def test_off_nothing_is_stored_and_resume_is_a_no_op() -> None:
    assert tracing.tracing_enabled() is False
    assert tracing.current_traceparent() is None
    with tracing.resume(STORED, "webhook.attempt", attempt=2) as current:
        assert current is None
    # the same shared null context as span(): no allocation per call when off
    assert tracing.resume(STORED, "x") is tracing.span("y")


_CHILD = textwrap.dedent(
    """
    import json, sys
    from mimeia_telemetry import tracing

    stored = sys.argv[1]
    assert tracing.configure_tracing("resume-test")
    out = {}
    with tracing.span("request") as request:
        out["stored_here"] = tracing.current_traceparent()
        out["ids"] = tracing.current_ids()
        out["injected"] = tracing.inject({})["traceparent"]
        # first attempt, in the request's own trace: nests under the current span
        with tracing.resume(out["stored_here"], "attempt.first", attempt=1) as first:
            out["first"] = tracing.current_ids()
    # a later attempt from a sweep with its own trace: parent is the stored span,
    # linked to the sweep
    with tracing.span("sweep"):
        out["sweep"] = tracing.current_ids()
        with tracing.resume(stored, "attempt.swept", attempt=2,
                            attributes={"webhook.message_id": "msg_1"}) as swept:
            out["swept"] = tracing.current_ids()
            with tracing.client_span("POST", "http://127.0.0.1/hook", headers := {}):
                out["sent"] = headers["traceparent"]
    # no current span at all: parent is the stored span, nothing to link
    with tracing.resume(stored, "attempt.bare", attempt=3):
        out["bare"] = tracing.current_ids()
    # a malformed or missing value gives no span; the work stays where it is
    with tracing.span("other"):
        out["other"] = tracing.current_ids()
        for bad in (None, "garbage", stored.upper()):
            with tracing.resume(bad, "attempt.bad") as nothing:
                assert nothing is None
                assert tracing.current_ids() == out["other"]
    tracing.flush()
    print(json.dumps(out))
    """
)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def test_resume_keeps_stored_work_in_its_trace(otlp: OtlpReceiver) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp.port}",
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _CHILD, STORED], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    by_name: dict[str, Span] = {s.name: s for s in otlp.spans}

    # what a row stores: the current span, 55 characters, as the W3C propagator writes it
    request_trace, request_span = out["ids"]
    assert out["stored_here"] == out["injected"]
    assert out["stored_here"].startswith(f"00-{request_trace}-{request_span}-")
    assert int(out["stored_here"][-2:], 16) & 1  # sampled
    assert len(out["stored_here"]) == tracing.TRACEPARENT_LENGTH

    first = by_name["attempt.first"]
    assert (first.trace_id, first.parent_id) == (request_trace, request_span)
    assert first.links == () and first.attributes["attempt"] == 1

    swept = by_name["attempt.swept"]
    sweep_trace, sweep_span = out["sweep"]
    assert sweep_trace != STORED_TRACE
    assert (swept.trace_id, swept.parent_id) == (STORED_TRACE, STORED_SPAN)
    assert swept.links == ((sweep_trace, sweep_span),)
    assert swept.attributes == {"attempt": 2, "webhook.message_id": "msg_1"}
    # what is sent from inside the attempt carries the stored trace
    _, sent_trace, sent_parent, _ = out["sent"].split("-")
    assert sent_trace == STORED_TRACE
    client = by_name["POST"]
    assert client.span_id == sent_parent and client.parent_id == swept.span_id

    bare = by_name["attempt.bare"]
    assert (bare.trace_id, bare.parent_id, bare.links) == (STORED_TRACE, STORED_SPAN, ())
    assert "attempt.bad" not in by_name
