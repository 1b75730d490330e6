"""Logs and traces for every member of the platform, with no required dependencies.

``logfmt``: the one JSON log formatter (trace ids, request id, nested secret
masking). ``tracing``: OpenTelemetry configured only by the standard ``OTEL_*``
variables, a no-op when off.
"""

from mimeia_telemetry.logfmt import JsonFormatter, mask_secrets
from mimeia_telemetry.tracing import configure_tracing, inject, span, tracing_enabled

__all__ = [
    "JsonFormatter",
    "configure_tracing",
    "inject",
    "mask_secrets",
    "span",
    "tracing_enabled",
]
