"""Logging: JSON lines in production, rich console in development; every record
carries the request id of the request or task it belongs to."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("automation_request_id", default=None)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")


def accept_request_id(value: str | None) -> str:
    """The caller's request id when it is a sane token, a fresh one otherwise."""
    if value and _REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key in ("tenant_id", "execution_id", "event_id", "rule_id"):
            if (value := getattr(record, key, None)) is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(json_lines: bool, level: str = "INFO") -> None:
    """JSON lines (production, tests, anything not a person's terminal) or rich output."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_automation", False):
            root.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
        handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
    handler.addFilter(_RequestIdFilter())
    setattr(handler, "_automation", True)  # noqa: B010
    root.addHandler(handler)
    root.setLevel(level)
