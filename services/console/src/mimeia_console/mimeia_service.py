"""How `mimeia up` starts the console: pointed at every service it started, signed in
for loopback visitors with the automation service's internal key.

A plain dict with the fields of `mimeia.ServiceSpec`: the console never imports
`mimeia` (the command is no runtime dependency of a service).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# where each setting's service is, when `mimeia up` runs it
_HTTP = {
    "automation": "CONSOLE_AUTOMATION_URL",
    "mesh": "CONSOLE_MESH_URL",
    "sms-sink": "CONSOLE_SMS_SINK_URL",
    "slack-connect": "CONSOLE_SLACK_CONNECT_URL",
}


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104


def settings_for(addresses: Mapping[str, Any]) -> dict[str, str]:
    out = {
        key: f"http://{_reachable(addresses[name].host)}:{addresses[name].port}"
        for name, key in _HTTP.items()
        if name in addresses
    }
    if "flowmesh" in addresses:
        fm = addresses["flowmesh"]
        out["CONSOLE_FLOWMESH_URL"] = f"{_reachable(fm.host)}:{fm.port}"
        if importlib.util.find_spec("flowmesh.server.http_api") is not None:
            # FlowMesh's HTTP API (next to gRPC under `mimeia up`) serves its metrics
            port = os.environ.get("MIMEIA_FLOWMESH_HTTP_PORT", "8674")
            out["CONSOLE_FLOWMESH_METRICS_URL"] = f"http://{_reachable(fm.host)}:{port}/metrics"
    known = {"console", "flowmesh", "smtp-sink", *_HTTP}
    others = [f"{name}=http://{_reachable(a.host)}:{a.port}"
              for name, a in sorted(addresses.items()) if name not in known]  # fmt: skip
    if others:
        out["CONSOLE_OTHER_SERVICES"] = ",".join(others)
    if "smtp-sink" in addresses:
        web = os.environ.get("MIMEIA_SMTP_SINK_WEB_PORT", "8025")
        out["CONSOLE_SMTP_SINK_URL"] = f"http://{_reachable(addresses['smtp-sink'].host)}:{web}"
    return out


def _argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["console"]
    sets = [f"--set={key}={value}" for key, value in settings_for(addresses).items()]
    return [
        sys.executable,
        "-m",
        "mimeia_console",
        "serve",
        "--host",
        me.host,
        "--port",
        str(me.port),
        "--dev-state",
        str(Path(state_dir).resolve()),
        *sets,
    ]


SERVICE: dict[str, Any] = {
    "name": "console",
    "description": "the platform console: open this first",
    "default_port": 8000,
    "argv": _argv,
    "after": ["automation", "flowmesh", "smtp-sink", "sms-sink", "slack-connect", "mesh"],
}
