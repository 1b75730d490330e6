"""The sinks as `mimeia up` services (entry points in this member's pyproject).

Plain dicts with ``mimeia.ServiceSpec``'s fields, so nothing here imports `mimeia`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any


def _smtp_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    own = addresses["smtp-sink"]
    web_port = os.environ.get("MIMEIA_SMTP_SINK_WEB_PORT", "8025")
    return [sys.executable, "-m", "automation.sinks.smtp", "--host", own.host,
            "--port", str(own.port), "--web-port", web_port]  # fmt: skip


def _sms_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    own = addresses["sms-sink"]
    return [sys.executable, "-m", "automation.sinks.sms", "--host", own.host,
            "--port", str(own.port)]  # fmt: skip


SMTP_SINK: dict[str, Any] = {
    "name": "smtp-sink",
    "description": "local SMTP sink; its web page is on MIMEIA_SMTP_SINK_WEB_PORT (8025)",
    "default_port": 1025,
    "argv": _smtp_argv,
    "scheme": "smtp",
}

SMS_SINK: dict[str, Any] = {
    "name": "sms-sink",
    "description": "local SMS sink speaking Twilio's Messages API, with a web page",
    "default_port": 8026,
    "argv": _sms_argv,
}
