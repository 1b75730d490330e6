from __future__ import annotations

import ipaddress

import pytest

from automation.webhooks import (
    AddressPolicy,
    InvalidWebhookURL,
    OutgoingWebhook,
    WebhookSender,
    address_class,
    check_url,
    generate_secret,
)
from automation.webhooks.testing import Receiver

SECRET = generate_secret()

ADDRESS_CLASSES = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.10.20", "link-local"),
    ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("100.64.0.1", "reserved"),
    ("240.0.0.1", "reserved"),
]


@pytest.mark.parametrize("address, expected", ADDRESS_CLASSES)
def test_each_internal_address_class_is_named(address: str, expected: str) -> None:
    assert address_class(ipaddress.ip_address(address)) == expected


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_class(ipaddress.ip_address(address)) is None


def _url(address: str, port: int = 9) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/hook"


@pytest.mark.parametrize("address, expected", ADDRESS_CLASSES)
async def test_sender_refuses_each_class_before_connecting(address: str, expected: str) -> None:
    async with WebhookSender(AddressPolicy(), timeout=2) as sender:
        result = await sender.send(OutgoingWebhook(_url(address), "msg_x", b"{}", [SECRET]))
    assert result.status_code is None
    assert result.error is not None
    assert f"{expected} address not permitted" in result.error


async def test_dns_answer_is_checked_at_connect_time(receiver: Receiver) -> None:
    # 'localhost' is a name: the guard sees 127.0.0.1 only when it resolves at connect time
    url = f"http://localhost:{receiver.port}/hook"
    async with WebhookSender(AddressPolicy.from_setting("10.0.0.0/8"), timeout=2) as sender:
        refused = await sender.send(OutgoingWebhook(url, "msg_dns", b"{}", [SECRET]))
    assert refused.error is not None and "loopback address not permitted" in refused.error
    assert receiver.received == []

    async with WebhookSender(AddressPolicy.from_setting("localhost"), timeout=2) as sender:
        allowed = await sender.send(OutgoingWebhook(url, "msg_dns", b"{}", [SECRET]))
    assert allowed.status_code == 200
    assert len(receiver.received) == 1


async def test_allowed_cidr_lets_loopback_through(receiver: Receiver) -> None:
    policy = AddressPolicy.from_setting("example.internal, 127.0.0.0/8, ::1/128")
    assert policy.allowed_hosts == frozenset({"example.internal"})
    async with WebhookSender(policy, timeout=2) as sender:
        result = await sender.send(OutgoingWebhook(receiver.url(), "msg_ok", b"{}", [SECRET]))
    assert result.delivered


def test_registration_check_refuses_literal_internal_urls() -> None:
    policy = AddressPolicy()
    for address, expected in ADDRESS_CLASSES:
        with pytest.raises(InvalidWebhookURL, match=expected):
            check_url(_url(address), policy)
    with pytest.raises(InvalidWebhookURL, match="loopback"):
        check_url("http://localhost:8000/x", policy)
    with pytest.raises(InvalidWebhookURL, match="metadata"):
        check_url("http://metadata.google.internal/computeMetadata/v1/", policy)
    assert check_url("https://api.external.com/webhook", policy)
    assert check_url("http://127.0.0.1:1/x", AddressPolicy.from_setting("127.0.0.1/32"))


@pytest.mark.parametrize(
    "bad, message",
    [("", "non-empty"), ("ftp://example.com/x", "http or https"), ("http:///nohost", "no host"),
     ("https://user:pw@example.com/", "credentials"), ("https://e.com/" + "a" * 3000, "2048")],
)  # fmt: skip
def test_registration_check_refuses_malformed_urls(bad: str, message: str) -> None:
    with pytest.raises(InvalidWebhookURL, match=message):
        check_url(bad, AddressPolicy())


async def test_http_step_policy_checks_names_at_connect_time_and_names_its_setting() -> None:
    import httpx

    from automation.netguard import AddressPolicy, GuardedTransport

    policy = AddressPolicy.from_setting("", setting="HTTP_STEP_ALLOWED_HOSTS")
    async with httpx.AsyncClient(transport=GuardedTransport(policy), timeout=5) as client:
        with pytest.raises(httpx.ConnectError, match="loopback address not permitted by "
                           "HTTP_STEP_ALLOWED_HOSTS"):  # fmt: skip
            await client.get("http://localhost:9/")
        with pytest.raises(httpx.ConnectError, match=r"metadata .*\(a link-local address\)"):
            await client.get("http://169.254.169.254/latest/meta-data")
