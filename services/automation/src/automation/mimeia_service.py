"""How `mimeia up` runs the automation service: API plus an in-process worker on
the embedded defaults (SQLite data, SQLite broker, in-memory rate limits)."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from mimeia import Address, ServiceSpec


def _argv(addresses: Mapping[str, Address], state_dir: str) -> list[str]:
    me = addresses["automation"]
    return [
        sys.executable,
        "-m",
        "automation",
        "--state-dir",
        f"{state_dir}/automation",
        "serve",
        "--host",
        me.host,
        "--port",
        str(me.port),
        "--with-worker",
    ]


SERVICE = ServiceSpec(
    name="automation",
    description="Automation service: workflows, rules, events (API + worker)",
    default_port=8090,
    argv=_argv,
)
