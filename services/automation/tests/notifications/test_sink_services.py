from __future__ import annotations

import httpx
import pytest

from mimeia.services import Address, discover_services
from mimeia.testing import free_port, run_server


def test_sinks_are_registered_for_mimeia_up(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = {spec.name: spec for spec in discover_services()}
    assert specs["smtp-sink"].default_port == 1025
    assert specs["sms-sink"].default_port == 8026
    web_port = free_port()
    monkeypatch.setenv("MIMEIA_SMTP_SINK_WEB_PORT", str(web_port))
    monkeypatch.setenv("MIMEIA_CONSOLE_PORT", "8123")
    addresses = {name: Address("127.0.0.1", free_port()) for name in ("smtp-sink", "sms-sink")}
    for name in ("smtp-sink", "sms-sink"):
        argv = specs[name].argv(addresses, "/tmp")
        with run_server(argv, ready_text=specs[name].ready_text) as server:
            assert f"127.0.0.1:{addresses[name].port}" in server.ready_line
            page = web_port if name == "smtp-sink" else addresses[name].port
            index = httpx.get(f"http://127.0.0.1:{page}/", timeout=5)
            assert index.status_code == 200
            # the bare page points at the console's richer view of the same inbox
            view = "/mail" if name == "smtp-sink" else "/sms"
            assert f"http://127.0.0.1:8123{view}" in index.text
        assert server.process.returncode == 0, server.log
