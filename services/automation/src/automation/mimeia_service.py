"""How `mimeia up` runs the automation service: API plus an in-process worker on
the embedded defaults (SQLite data, SQLite broker, in-memory rate limits), sending
email to the SMTP sink and SMS to the SMS sink that `mimeia up` starts first."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from automation.sinks.sms import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

# Twilio's magic "from" number that always passes validation (test credentials).
SINK_FROM_NUMBER = "+15005550006"


def _reachable(host: str) -> str:
    # a sink bound to every interface is reached on loopback
    return "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104


def sink_environment(addresses: Mapping[str, Any]) -> dict[str, str]:
    """SMTP_* and TWILIO_* settings that point notifications at the local sinks.

    Only the sinks present in ``addresses`` are wired; the others keep their settings.
    """
    env: dict[str, str] = {}
    smtp = addresses.get("smtp-sink")
    if smtp is not None:
        env.update(SMTP_HOST=_reachable(smtp.host), SMTP_PORT=str(smtp.port),
                   SMTP_USE_TLS="false")  # fmt: skip
    sms = addresses.get("sms-sink")
    if sms is not None:
        env.update(
            SMS_PROVIDERS="twilio",
            TWILIO_BASE_URL=f"http://{_reachable(sms.host)}:{sms.port}",
            TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
            TWILIO_FROM_NUMBER=SINK_FROM_NUMBER,
        )
    return env


def _argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["automation"]
    # environment variables already set by the user win over these defaults
    sinks = sink_environment(addresses)
    defaults = [f"--env-default={key}={value}" for key, value in sinks.items()]
    return [
        sys.executable,
        "-m",
        "automation",
        "--state-dir",
        f"{state_dir}/automation",
        *defaults,
        "serve",
        "--host",
        me.host,
        "--port",
        str(me.port),
        "--with-worker",
    ]


# a plain dict with mimeia.ServiceSpec's fields: the service never imports `mimeia`
SERVICE: dict[str, Any] = {
    "name": "automation",
    "description": "Automation service: workflows, rules, events (API + worker)",
    "default_port": 8090,
    "argv": _argv,
    "after": ["smtp-sink", "sms-sink"],
}
