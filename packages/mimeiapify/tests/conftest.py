"""Real emulator processes for the connector and compatibility tests (one of each per session)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import uvicorn

from mimeia.testing import free_port, run_server


@dataclass
class AirtableServer:
    url: str  # http://127.0.0.1:PORT

    @property
    def api_url(self) -> str:
        return f"{self.url}/v0"

    def create_base(self, tables: list[dict[str, Any]], name: str = "test base") -> dict[str, Any]:
        """Build a base through the metadata API, as a user of the real API would."""
        response = requests.post(
            f"{self.api_url}/meta/bases",
            json={"name": name, "workspaceId": "wspTestWorkspace01", "tables": tables},
            headers={"Authorization": "Bearer pat_test_token"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def stats(self, base_id: str) -> dict[str, int]:
        found = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()
        return found.get(base_id, {"requests": 0, "rate_limited": 0})  # type: ignore[no-any-return]


def tasks_table(name: str = "Tasks") -> dict[str, Any]:
    return {
        "name": name,
        "fields": [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Hours", "type": "number", "options": {"precision": 0}},
            {
                "name": "Done",
                "type": "checkbox",
                "options": {"icon": "check", "color": "greenBright"},
            },
            {
                "name": "Status",
                "type": "singleSelect",
                "options": {"choices": [{"name": "Todo"}, {"name": "Done"}]},
            },
            {"name": "Files", "type": "multipleAttachments"},
        ],
    }


@pytest.fixture(scope="session")
def airtable_server() -> Iterator[AirtableServer]:
    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.airtable", "--host", "127.0.0.1",
            "--port", str(port), "--rate-limit", "5", "--penalty-seconds", "30"]  # fmt: skip
    with run_server(argv) as server:
        assert server.ready_line == f"listening on http://127.0.0.1:{port}"
        yield AirtableServer(f"http://127.0.0.1:{port}")


@pytest.fixture
def airtable_env(
    airtable_server: AirtableServer, monkeypatch: pytest.MonkeyPatch
) -> AirtableServer:
    """Point every client at the emulator by configuration alone."""
    monkeypatch.setenv("AIRTABLE_API_URL", airtable_server.api_url)
    monkeypatch.setenv("AIRTABLE_CONTENT_URL", airtable_server.api_url)
    return airtable_server


@pytest.fixture
def base(airtable_env: AirtableServer) -> dict[str, Any]:
    """A fresh base (its own rate-limit budget) with a Tasks table."""
    return airtable_env.create_base([tasks_table()])


@dataclass
class WompiServer:
    url: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    def new_merchant(self, events_url: str | None = None) -> dict[str, str]:
        response = requests.post(
            f"{self.url}/_emulator/merchants", json={"events_url": events_url}, timeout=10
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def set_status(self, transaction_id: str, status: str) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/_emulator/transactions/{transaction_id}/status",
            json={"status": status},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def wompi_server() -> Iterator[WompiServer]:
    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.wompi", "--host", "127.0.0.1",
            "--port", str(port), "--settle-seconds", "0.3"]  # fmt: skip
    with run_server(argv) as server:
        assert server.ready_line == f"listening on http://127.0.0.1:{port}"
        yield WompiServer(f"http://127.0.0.1:{port}")


@pytest.fixture
def merchant(wompi_server: WompiServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh sandbox merchant; clients reach the emulator through WOMPI_API_URL."""
    monkeypatch.setenv("WOMPI_API_URL", wompi_server.api_url)
    monkeypatch.setenv("WOMPI_CHECKOUT_URL", f"{wompi_server.url}/p/")
    keys = wompi_server.new_merchant()
    monkeypatch.setenv("WOMPI_PRIVATE_KEY", keys["private_key"])
    return keys


@pytest.fixture
def served() -> Iterator[Any]:
    """Serve an ASGI app with uvicorn on a free port (a real socket the emulator can reach)."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: Any) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class WhatsAppEmulatorServer:
    url: str  # http://127.0.0.1:PORT (WHATSAPP_API_URL)

    def new_number(self, **options: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/_emulator/numbers", json=options, timeout=15)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def whatsapp_server() -> Iterator[WhatsAppEmulatorServer]:
    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.whatsapp", "--host", "127.0.0.1",
            "--port", str(port), "--deliver-seconds", "0.1"]  # fmt: skip
    with run_server(argv) as server:
        assert server.ready_line == f"listening on http://127.0.0.1:{port}"
        yield WhatsAppEmulatorServer(f"http://127.0.0.1:{port}")
