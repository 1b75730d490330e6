"""Fixtures for notification tests: the real sink processes and a TLS certificate."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# our own database and broker prefix (see automation.webhooks.testing)
from automation.webhooks.testing import delivery_database, settings  # noqa: F401
from mimeia.testing import free_port, run_server


@dataclass(frozen=True)
class SmtpSinkAddress:
    host: str
    port: int
    web_url: str


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSinkAddress]:
    port, web_port = free_port(), free_port()
    argv = ["python", "-m", "automation.sinks.smtp", "--port", str(port),
            "--web-port", str(web_port)]  # fmt: skip
    with run_server(argv) as server:
        assert "listening on smtp://127.0.0.1" in server.ready_line
        yield SmtpSinkAddress("127.0.0.1", port, f"http://127.0.0.1:{web_port}")
    assert server.process.returncode == 0, server.log


@pytest.fixture(scope="module")
def sms_sink_url() -> Iterator[str]:
    port = free_port()
    with run_server(["python", "-m", "automation.sinks.sms", "--port", str(port)]) as server:
        yield f"http://127.0.0.1:{port}"
    assert server.process.returncode == 0, server.log


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
