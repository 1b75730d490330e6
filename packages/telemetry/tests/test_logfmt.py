"""The one formatter: field set, nested masking, trace ids from a live span."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

from mimeia_telemetry import tracing
from mimeia_telemetry.logfmt import JsonFormatter, mask_secrets


def _line(**extra: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("telemetry.test")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed %s", "call", extra=extra)
    return json.loads(stream.getvalue())


def test_field_set_and_order() -> None:
    entry = _line(request_id="req-1", tenant_id=7)
    assert list(entry)[:5] == ["ts", "level", "logger", "message", "exception"]
    assert entry["level"] == "ERROR" and entry["logger"] == "telemetry.test"
    assert entry["message"] == "failed call"
    assert "ValueError: boom" in str(entry["exception"])
    assert entry["request_id"] == "req-1" and entry["tenant_id"] == 7
    assert str(entry["ts"]).endswith("+00:00") and "." in str(entry["ts"])
    assert "trace_id" not in entry  # tracing is off in this process


def test_secrets_masked_at_any_depth() -> None:
    entry = _line(
        headers={"Authorization": "Bearer abc", "X-Api-Key": "k1", "Accept": "json"},
        request={"body": {"items": [{"password": "p", "name": "n"}]}, "cookie": "c"},
        token="t0",
    )
    text = json.dumps(entry)
    for secret in ("Bearer abc", '"k1"', '"p"', '"c"', '"t0"'):
        assert secret not in text, secret
    assert entry["headers"] == {"Authorization": "***", "X-Api-Key": "***", "Accept": "json"}
    assert entry["request"] == {
        "body": {"items": [{"password": "***", "name": "n"}]},
        "cookie": "***",
    }
    assert entry["token"] == "***"


def test_mask_bounded_depth_and_cycles() -> None:
    nested: dict[str, object] = {}
    nested["self"] = nested
    masked = mask_secrets(nested)
    depth = 0
    while isinstance(masked, dict):
        masked = masked["self"]
        depth += 1
    assert depth == 8 and masked == "<dict>"


def test_off_costs_nothing_and_changes_nothing() -> None:
    assert tracing.tracing_enabled() is False
    assert tracing.current_ids() == (None, None)
    with tracing.span("x", kind="client") as current:
        assert current is None
    headers = {"a": "b"}
    assert tracing.inject(headers) == {"a": "b"}


def test_log_lines_carry_trace_and_span_ids_when_on() -> None:
    script = textwrap.dedent(
        """
        import json, logging, sys
        from mimeia_telemetry import tracing
        from mimeia_telemetry.logfmt import JsonFormatter
        assert tracing.configure_tracing("unit")
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        log = logging.getLogger("t"); log.handlers[:] = [handler]; log.setLevel("INFO")
        parent = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        with tracing.span("work", parent=parent) as span:
            log.info("inside")
            headers = tracing.inject({})
        print(json.dumps({"headers": headers}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={"OTEL_TRACES_EXPORTER": "console", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = [json.loads(x) for x in out.splitlines() if x.startswith('{"')]
    entry = next(x for x in lines if x.get("message") == "inside")
    headers = next(x for x in lines if "headers" in x)["headers"]
    assert entry["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert len(entry["span_id"]) == 16 and entry["span_id"] != "b7ad6b7169203331"
    assert headers["traceparent"].split("-")[1:3] == [entry["trace_id"], entry["span_id"]]


def test_wanted_reads_only_standard_variables() -> None:
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"})
    assert not tracing.wanted(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}
    )
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})


def test_span_urls_keep_no_secrets() -> None:
    url = "https://user:pa55@api.example.com:8443/v0/base/table?api_key=k#frag"
    assert tracing._strip_query(url) == "https://api.example.com:8443/v0/base/table"
