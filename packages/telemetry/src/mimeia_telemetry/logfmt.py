"""The one JSON log formatter of the platform.

Every line is one object with the same leading fields wherever it was written:
``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``, then
``exception`` / ``stack`` when present, ``trace_id`` / ``span_id`` when a span
is active, ``request_id`` when the record carries one, then the record's
extras. Values under secret-looking keys are masked at any depth, so headers
passed inside ``extra`` are masked like a top-level ``token``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from mimeia_telemetry import tracing

__all__ = ["SECRET_WORDS", "JsonFormatter", "is_secret_key", "mask_secrets"]

SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "api-key",
    "cookie",
    "signature",
    "private_key",
    "credential",
)
MASK = "***"
_MAX_DEPTH = 8
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Fields the formatter writes itself; extras never overwrite them.
_OWN = frozenset(("ts", "level", "logger", "message", "exception", "stack", "trace_id", "span_id"))


def is_secret_key(key: object) -> bool:
    lowered = str(key).lower()
    return any(word in lowered for word in SECRET_WORDS)


def mask_secrets(value: Any, _depth: int = 0) -> Any:
    """``value`` with every value under a secret-looking key replaced by ``***``.

    Mappings (dicts, header objects) and lists/tuples are walked to a bounded depth;
    anything deeper is shown as its type name rather than risking a leak.
    """
    if isinstance(value, Mapping):
        if _depth >= _MAX_DEPTH:
            return f"<{type(value).__name__}>"
        return {
            str(k): MASK if is_secret_key(k) else mask_secrets(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        if _depth >= _MAX_DEPTH:
            return f"<{type(value).__name__}>"
        return [mask_secrets(v, _depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return mask_secrets(dataclasses.asdict(value), _depth)
    dump = getattr(value, "model_dump", None)  # pydantic models, without importing pydantic
    if callable(dump) and not isinstance(value, type):
        try:
            return mask_secrets(dump(mode="json"), _depth)
        except Exception:
            return repr(value)
    return value


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module docstring for the field set."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        trace_id, span_id = self.trace_ids(record)
        if trace_id:
            entry["trace_id"] = trace_id
            entry["span_id"] = span_id
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key in _OWN or key.startswith(("_", "otel")):
                continue
            if key == "request_id" and value in (None, "-"):
                continue
            entry[key] = MASK if is_secret_key(key) else mask_secrets(value)
        return json.dumps(entry, default=_default, ensure_ascii=False)

    def trace_ids(self, record: logging.LogRecord) -> tuple[str | None, str | None]:
        """The current span's ids, else ids a record brought along (``extra=``)."""
        trace_id, span_id = tracing.current_ids()
        if trace_id is None:
            trace_id = getattr(record, "trace_id", None) or getattr(record, "otelTraceID", None)
            span_id = getattr(record, "span_id", None) or getattr(record, "otelSpanID", None)
        return trace_id, span_id
