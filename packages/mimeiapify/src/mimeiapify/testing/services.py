"""The emulators as ``mimeia up`` services (entry point group ``mimeia.services``).

Plain dicts with the fields of ``mimeia.ServiceSpec``: this module never imports
`mimeia`, so installing the connectors does not pull in our tooling.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


def _airtable_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["airtable-emulator"]
    return [sys.executable, "-m", "mimeiapify.testing.airtable",
            "--host", me.host, "--port", str(me.port)]  # fmt: skip


def _wompi_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["wompi-emulator"]
    return [sys.executable, "-m", "mimeiapify.testing.wompi",
            "--host", me.host, "--port", str(me.port)]  # fmt: skip


AIRTABLE_EMULATOR: dict[str, Any] = {
    "name": "airtable-emulator",
    "description": "local Airtable API (AIRTABLE_API_URL=http://HOST:PORT/v0)",
    "default_port": 8710,
    "argv": _airtable_argv,
}
WOMPI_EMULATOR: dict[str, Any] = {
    "name": "wompi-emulator",
    "description": "local Wompi sandbox (WOMPI_API_URL=http://HOST:PORT/v1)",
    "default_port": 8720,
    "argv": _wompi_argv,
}


def _whatsapp_argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["whatsapp-emulator"]
    return [sys.executable, "-m", "mimeiapify.testing.whatsapp",
            "--host", me.host, "--port", str(me.port)]  # fmt: skip


WHATSAPP_EMULATOR: dict[str, Any] = {
    "name": "whatsapp-emulator",
    "description": "local WhatsApp Cloud API (WHATSAPP_API_URL=http://HOST:PORT)",
    "default_port": 8730,
    "argv": _whatsapp_argv,
}
