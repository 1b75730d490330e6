from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from automation.notifications import (
    Attachment,
    Email,
    EmailDeliveryError,
    SmtpEmailSender,
    SmtpSettings,
)
from mimeia.testing import free_port


def sink_messages(web_url: str) -> list[dict[str, object]]:
    response = httpx.get(f"{web_url}/api/messages", timeout=5)
    response.raise_for_status()
    messages: list[dict[str, object]] = response.json()["messages"]
    return messages


async def test_plain_html_and_attachments_arrive_at_the_sink(smtp_sink) -> None:  # type: ignore[no-untyped-def]
    sender = SmtpEmailSender(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port,
                                          start_tls=False, sender="robot@mimeia.dev"))  # fmt: skip
    message_id = await sender.send(
        Email(
            to=["user@example.com", "second@example.com"],
            bcc=["audit@example.com"],
            subject="Welcome!",
            text="Welcome to our platform!",
            html="<h1>Welcome</h1>",
            attachments=[Attachment("report.csv", b"a,b\n1,2\n"),
                         Attachment("blob", b"\x00\x01", "application/octet-stream")],
        )
    )  # fmt: skip
    got = next(m for m in sink_messages(smtp_sink.web_url) if m["message_id"] == message_id)
    assert got["subject"] == "Welcome!"
    assert got["mail_from"] == "robot@mimeia.dev"
    assert got["rcpt_to"] == ["user@example.com", "second@example.com", "audit@example.com"]
    assert "audit@example.com" not in str(got["to"])
    assert str(got["text"]).strip() == "Welcome to our platform!"
    assert str(got["html"]).strip() == "<h1>Welcome</h1>"
    assert got["attachments"] == [
        {"filename": "report.csv", "content_type": "text/csv", "size": 8},
        {"filename": "blob", "content_type": "application/octet-stream", "size": 2},
    ]
    page = httpx.get(smtp_sink.web_url + "/", timeout=5).text
    assert "Welcome!" in page and "report.csv" in page


async def test_html_only_message(smtp_sink) -> None:  # type: ignore[no-untyped-def]
    sender = SmtpEmailSender(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port))
    message_id = await sender.send(Email(to=["a@example.com"], subject="H", html="<b>hi</b>"))
    got = next(m for m in sink_messages(smtp_sink.web_url) if m["message_id"] == message_id)
    assert got["text"] is None and str(got["html"]).strip() == "<b>hi</b>"


class _Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:  # fmt: skip
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _authenticator(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                   auth_data: object) -> AuthResult:  # fmt: skip
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(tls_certificate: tuple[Path, Path]) -> Iterator[tuple[Controller, _Recorder]]:
    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = _Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(),
                            tls_context=context, require_starttls=True,
                            authenticator=_authenticator, auth_required=True)  # fmt: skip
    controller.start()
    yield controller, recorder
    controller.stop()


async def test_starttls_with_auth(tls_server, tls_certificate) -> None:  # type: ignore[no-untyped-def]
    controller, recorder = tls_server
    settings = SmtpSettings(host="127.0.0.1", port=controller.port, start_tls=True,
                            username="mailer", password="s3cret",
                            cert_bundle=str(tls_certificate[0]))  # fmt: skip
    await SmtpEmailSender(settings).send(Email(to=["x@example.com"], subject="tls", text="t"))
    assert recorder.envelopes[0].rcpt_tos == ["x@example.com"]

    wrong = SmtpSettings(**{**settings.model_dump(), "password": "nope"})
    with pytest.raises(EmailDeliveryError) as info:
        await SmtpEmailSender(wrong).send(Email(to=["x@example.com"], subject="s", text="t"))
    assert info.value.permanent and info.value.code == 535
    assert "nope" not in str(info.value)

    untrusted = SmtpSettings(**{**settings.model_dump(), "cert_bundle": None})
    with pytest.raises(EmailDeliveryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        await SmtpEmailSender(untrusted).send(Email(to=["x@example.com"], subject="s", text="t"))


async def test_implicit_tls(tls_certificate: tuple[Path, Path]) -> None:
    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = _Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(),
                            ssl_context=context)  # fmt: skip
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=controller.port, use_tls=True,
                                cert_bundle=str(cert))  # fmt: skip
        await SmtpEmailSender(settings).send(Email(to=["y@example.com"], subject="s", text="t"))
    finally:
        controller.stop()
    assert recorder.envelopes[0].rcpt_tos == ["y@example.com"]


async def test_refused_recipient_is_permanent(tls_server, tls_certificate) -> None:  # type: ignore[no-untyped-def]
    controller, _ = tls_server
    settings = SmtpSettings(host="127.0.0.1", port=controller.port, start_tls=True,
                            username="mailer", password="s3cret",
                            cert_bundle=str(tls_certificate[0]))  # fmt: skip
    with pytest.raises(EmailDeliveryError, match=r"ghost@refused\.example") as info:
        await SmtpEmailSender(settings).send(
            Email(to=["ghost@refused.example"], subject="s", text="t")
        )
    assert info.value.permanent


async def test_unreachable_server_is_retryable() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(EmailDeliveryError) as info:
        await SmtpEmailSender(settings).send(Email(to=["a@example.com"], subject="s", text="t"))
    assert not info.value.permanent


async def test_silent_server_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, timeout=0.5)
        with pytest.raises(EmailDeliveryError) as info:
            await SmtpEmailSender(settings).send(Email(to=["a@b.example"], subject="s", text="t"))
        assert not info.value.permanent
    finally:
        server.close()


@pytest.mark.parametrize(
    "mail, message",
    [(Email(to=[], subject="s", text="t"), "to:"),
     (Email(to=["a@b.example"], subject="s"), "body:"),
     (Email(to=["a@b.example"], subject="s", text="t",
            attachments=[Attachment("big.bin", b"x" * (10 * 1024 * 1024 + 1))]), "attachments:")],
)  # fmt: skip
async def test_bad_emails_are_refused_before_sending(mail: Email, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await SmtpEmailSender(SmtpSettings(port=free_port())).send(mail)
