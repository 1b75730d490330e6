"""Email over SMTP with aiosmtplib: plain and HTML bodies, attachments, TLS and auth."""

from __future__ import annotations

import email.message
import email.utils
import mimetypes
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class EmailDeliveryError(Exception):
    """The SMTP server did not take the message.

    ``permanent`` is True when retrying cannot help (5xx: recipients refused,
    authentication rejected); timeouts, refused connections and 4xx are retryable.
    """

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        self.permanent = permanent
        self.code = code
        super().__init__(message)


class SmtpSettings(BaseModel):
    """Where and how to send mail (``SMTP_*`` settings).

    ``use_tls`` is implicit TLS from the first byte (port 465); ``start_tls``
    upgrades a plain connection (True: required, None: when the server offers it,
    False: never).
    """

    model_config = ConfigDict(frozen=True)

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    use_tls: bool = False
    start_tls: bool | None = None
    validate_certs: bool = True
    cert_bundle: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    sender: str = "noreply@localhost"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str | None = None

    def mime_type(self) -> tuple[str, str]:
        guessed = self.content_type or mimetypes.guess_type(self.filename)[0]
        main, _, sub = (guessed or "application/octet-stream").partition("/")
        return main, sub or "octet-stream"


@dataclass(frozen=True)
class Email:
    """One email to one or more recipients; at least one of ``text`` and ``html``."""

    to: Sequence[str]
    subject: str
    text: str | None = None
    html: str | None = None
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    reply_to: str | None = None
    sender: str | None = None
    attachments: Sequence[Attachment] = field(default_factory=tuple)
    headers: dict[str, str] = field(default_factory=dict)


def build_message(mail: Email, default_sender: str) -> email.message.EmailMessage:
    """The MIME message for ``mail`` (multipart/alternative when both bodies are given)."""
    if not mail.to:
        raise ValueError("to: at least one recipient is needed")
    if mail.text is None and mail.html is None:
        raise ValueError("body: give text, html or both")
    for attachment in mail.attachments:
        if len(attachment.content) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachments: {attachment.filename} is larger than 10 MiB")
    msg = email.message.EmailMessage()
    sender = mail.sender or default_sender
    msg["From"] = sender
    msg["To"] = ", ".join(mail.to)
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    if mail.reply_to:
        msg["Reply-To"] = mail.reply_to
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    for name, value in mail.headers.items():
        msg[name] = value
    if mail.text is not None:
        msg.set_content(mail.text)
        if mail.html is not None:
            msg.add_alternative(mail.html, subtype="html")
    elif mail.html is not None:
        msg.set_content(mail.html, subtype="html")
    for attachment in mail.attachments:
        main, sub = attachment.mime_type()
        msg.add_attachment(
            attachment.content, maintype=main, subtype=sub, filename=attachment.filename
        )
    return msg


class SmtpEmailSender:
    """Sends :class:`Email` through one SMTP server; one connection per message."""

    def __init__(self, settings: SmtpSettings, *, tls_context: ssl.SSLContext | None = None):
        self.settings = settings
        self._tls_context = tls_context

    async def send(self, mail: Email) -> str:
        """Send ``mail``; return its Message-ID or raise EmailDeliveryError."""
        s = self.settings
        message = build_message(mail, s.sender)
        recipients = [*mail.to, *mail.cc, *mail.bcc]
        try:
            await aiosmtplib.send(
                message,
                recipients=recipients,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                use_tls=s.use_tls,
                start_tls=s.start_tls,
                validate_certs=s.validate_certs,
                cert_bundle=s.cert_bundle,
                tls_context=self._tls_context,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise EmailDeliveryError(
                f"SMTP server answered {exc.code}: {exc.message}",
                permanent=500 <= exc.code < 600,
                code=exc.code,
            ) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(r.recipient for r in exc.recipients)
            raise EmailDeliveryError(f"recipients refused: {refused}", permanent=True) from exc
        except aiosmtplib.SMTPException as exc:
            # includes timeouts and connection failures: the server may come back
            raise EmailDeliveryError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        except OSError as exc:
            raise EmailDeliveryError(f"cannot reach SMTP server: {exc}", permanent=False) from exc
        return str(message["Message-ID"])
