"""Structured logs: one JSON object per line (or plain text for a terminal)."""

from __future__ import annotations

import logging
import sys

from mimeia_telemetry.logfmt import JsonFormatter, mask_secrets

__all__ = ["JsonFormatter", "configure"]

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...``: the record's extra fields stay."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value!r}" if isinstance(value, str) and (" " in value or not value)
            else f"{key}={value}"
            for key, value in mask_secrets(
                {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
            ).items()
        ]  # fmt: skip
        if not extras:
            return line
        head, sep, rest = line.partition("\n")  # a traceback stays below the fields
        return f"{head} {' '.join(extras)}{sep}{rest}"


def configure(level: str = "info", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger("flowmesh")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
