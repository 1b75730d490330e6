"""Structured logs: one JSON object per line (or plain text for a terminal)."""

from __future__ import annotations

import logging
import sys

from mimeia_telemetry.logfmt import JsonFormatter

__all__ = ["JsonFormatter", "configure"]


def configure(level: str = "info", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("flowmesh")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
