"""Log formats: the text format keeps a record's extra fields (the cause of a failure)."""

from __future__ import annotations

import json
import logging

from flowmesh.server.logs import JsonFormatter, TextFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "flowmesh.server", "levelname": "WARNING", "levelno": 30,
         "msg": "store unavailable"}
    )  # fmt: skip
    record.__dict__.update(extra)
    return record


def test_text_format_keeps_extra_fields() -> None:
    record = _record(method="/flowmesh.v1.QueueService/Enqueue", error="ConnectionError('refused')")
    line = TextFormatter().format(record)
    assert "WARNING flowmesh.server store unavailable" in line
    assert "method=/flowmesh.v1.QueueService/Enqueue" in line
    assert "error=ConnectionError('refused')" in line


def test_text_format_quotes_values_with_spaces_and_keeps_tracebacks_below() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = _record(cause="connection reset by peer")
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    first, _, rest = text.partition("\n")
    assert first.endswith("cause='connection reset by peer'")
    assert "RuntimeError: boom" in rest


def test_json_and_text_carry_the_same_fields() -> None:
    record = _record(method="m", error="e")
    entry = json.loads(JsonFormatter().format(record))
    line = TextFormatter().format(record)
    for key in ("method", "error"):
        assert entry[key] in line and f"{key}=" in line
