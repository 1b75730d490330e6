"""Issue 14.14: the dev sinks answer only to loopback Host names, so a web page that
rebinds its DNS name to 127.0.0.1 cannot read dev mail or delete SMS."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

FOREIGN = ["evil.example", "evil.example:8026", "localhost.evil.example", "127.0.0.1.nip.io",
           "attacker.test:80", ""]  # fmt: skip


def loopback(port: int) -> list[str]:
    return ["localhost", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"]


def send_sms(url: str) -> None:
    sent = httpx.post(
        f"{url}/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages.json",
        data={"To": "+15551230000", "From": "+15551239999", "Body": "code 123"},
        auth=("AC" + "0" * 32, "sink-auth-token"),
        timeout=5,
    )
    assert sent.status_code == 201, sent.text


def test_sms_sink_refuses_foreign_hosts_and_keeps_its_messages(sms_sink_url: str) -> None:
    send_sms(sms_sink_url)
    port = int(sms_sink_url.rsplit(":", 1)[1])
    for host in FOREIGN:
        read = httpx.get(f"{sms_sink_url}/api/messages", headers={"Host": host}, timeout=5)
        wiped = httpx.delete(f"{sms_sink_url}/api/messages", headers={"Host": host}, timeout=5)
        assert (read.status_code, wiped.status_code) == (400, 400), host
        assert "code 123" not in read.text
    for host in loopback(port):
        listed = httpx.get(f"{sms_sink_url}/api/messages", headers={"Host": host}, timeout=5)
        assert listed.status_code == 200, host
        assert "code 123" in listed.text


def test_smtp_sink_web_page_refuses_foreign_hosts(smtp_sink) -> None:
    port = int(smtp_sink.web_url.rsplit(":", 1)[1])
    for host in FOREIGN:
        page = httpx.get(f"{smtp_sink.web_url}/", headers={"Host": host}, timeout=5)
        assert page.status_code == 400, host
    for host in loopback(port):
        page = httpx.get(f"{smtp_sink.web_url}/api/messages", headers={"Host": host}, timeout=5)
        assert page.status_code == 200, host


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:8025", "localhost"), ("[::1]:8026", "[::1]"), ("[::1]", "[::1]"),
     ("127.0.0.1", "127.0.0.1"), ("Evil.Example:80", "evil.example"), ("::1", "::1")],
)  # fmt: skip
def test_host_name_drops_the_port(header: str, name: str) -> None:
    from automation.sinks._web import host_name

    assert host_name(header) == name
