"""The emulators are `mimeia up` services and real command-line servers."""

from __future__ import annotations

import sys

import pytest
import requests

from mimeia.services import Address, discover_services
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration


def test_registered_for_mimeia_up() -> None:
    specs = {s.name: s for s in discover_services()}
    assert specs["airtable-emulator"].default_port == 8710
    assert specs["wompi-emulator"].default_port == 8720
    assert specs["whatsapp-emulator"].default_port == 8730


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("airtable-emulator", "/_emulator/stats"),
        ("wompi-emulator", "/_emulator/events"),
        ("whatsapp-emulator", "/_emulator/numbers"),
    ],
)
def test_each_service_starts_answers_and_stops(name: str, probe: str) -> None:
    spec = next(s for s in discover_services() if s.name == name)
    port = free_port()
    argv = spec.argv({name: Address("127.0.0.1", port)}, "/tmp")
    assert argv[0] == sys.executable
    with run_server(argv, ready_text=spec.ready_text) as server:
        assert server.ready_line == f"listening on http://127.0.0.1:{port}"
        assert requests.get(f"http://127.0.0.1:{port}{probe}", timeout=5).status_code == 200
    assert server.process.returncode == 0  # SIGTERM is a clean exit


def test_bad_command_line_is_refused() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "mimeiapify.testing.airtable", "--rate-limit", "0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "--rate-limit" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "mimeiapify.testing.whatsapp", "--mps", "0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "--mps" in done.stderr
