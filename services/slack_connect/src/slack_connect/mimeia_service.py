"""How ``mimeia up`` starts the slack-connect service and its Paragon emulator.

Plain dicts with ``mimeia.ServiceSpec``'s fields, so nothing here imports `mimeia`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slack_connect.settings import SERVICE_ROOT

__all__ = ["PARAGON_EMULATOR", "SLACK_CONNECT"]

DATA_DIR = SERVICE_ROOT / "tests" / "slack" / "schematestdata"


def _service_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    from slack_connect.devstack import dev_store_url

    me = addresses["slack-connect"]
    argv = [sys.executable, "-m", "slack_connect.cli", "serve", "--host", me.host,
            "--port", str(me.port), "--dev-state", state_dir,
            "--store", dev_store_url(Path(state_dir))]  # fmt: skip
    if "paragon-emulator" in addresses:
        argv += ["--dev-paragon", f"http://{addresses['paragon-emulator']}"]
    if "mesh" in addresses:
        argv += ["--dev-mesh", f"http://{addresses['mesh']}"]
    return argv


def _emulator_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    from slack_connect.devstack import DEV_PROJECT_ID, DEV_WORKFLOWS, ensure_dev_material

    me = addresses["paragon-emulator"]
    material = ensure_dev_material(Path(state_dir))
    argv = [sys.executable, "-m", "slack_connect.cli", "paragon-emulator",
            "--host", me.host, "--port", str(me.port), "--project-id", DEV_PROJECT_ID,
            "--public-key-file", str(material.public_key), "--data-dir", str(DATA_DIR),
            "--callback-url", f"http://{addresses['slack-connect']}",
            "--incoming-secret-file", str(material.incoming_secret_file)]  # fmt: skip
    for kind, workflow_id in DEV_WORKFLOWS.items():
        argv += ["--workflow", f"{kind}={workflow_id}"]
    return argv


SLACK_CONNECT: dict[str, Any] = {
    "name": "slack-connect",
    "description": "Slack via Paragon: incoming routes, allowlist, sync, mesh",
    "default_port": 8676,
    "argv": _service_argv,
    "after": ["mesh", "paragon-emulator"],
}

PARAGON_EMULATOR: dict[str, Any] = {
    "name": "paragon-emulator",
    "description": "local Paragon (proxy, users, triggers) over an emulated Slack",
    "default_port": 8677,
    "argv": _emulator_argv,
}
