"""The guarded transport's TLS: a context we build (certifi's CAs, verification on),
never one read out of httpx's internals; a private CA is trusted only when passed."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from automation.netguard import AddressPolicy, GuardedTransport, default_ssl_context
from mimeia.testing import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate; yields (url, cert)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}/", cert
    finally:
        server.shutdown()
        server.server_close()


POLICY = AddressPolicy.from_setting("127.0.0.1")


async def test_certificates_are_verified_by_default(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    async with httpx.AsyncClient(transport=GuardedTransport(POLICY), timeout=5) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(url)


async def test_a_private_ca_is_trusted_when_passed(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    context = default_ssl_context()
    context.load_verify_locations(cert)
    transport = GuardedTransport(POLICY, ssl_context=context)
    async with httpx.AsyncClient(transport=transport, timeout=5) as client:
        response = await client.get(url)
    assert response.status_code == 200 and response.text == "hello"


def test_the_default_context_verifies_and_refuses_old_tls() -> None:
    context = default_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
