"""SMS through a chain of providers: a Twilio-compatible HTTP API, the console.

A provider that fails (unreachable, 5xx, rate limited, bad credentials) hands
the message to the next provider in the chain. A message the provider rejects
for its own content (an invalid number, an empty body) is not passed on: every
provider would reject it the same way.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

import httpx

E164 = re.compile(r"^\+[1-9]\d{6,14}\Z")
MAX_SMS_CHARS = 1600
# Twilio error codes that describe the message, not the provider's state.
_MESSAGE_ERROR_CODES = frozenset({21211, 21408, 21602, 21604, 21610, 21612, 21614, 21617})


class SmsError(Exception):
    """One provider could not send; ``message_problem`` means no provider could."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        message_problem: bool = False,
    ) -> None:
        self.provider = provider
        self.code = code
        self.status = status
        self.message_problem = message_problem
        super().__init__(f"{provider}: {message}")


class AllProvidersFailed(SmsError):
    """Every provider in the chain failed; ``errors`` holds each one's failure."""

    def __init__(self, errors: Sequence[SmsError]) -> None:
        self.errors = list(errors)
        detail = "; ".join(str(e) for e in errors) or "no provider configured"
        super().__init__("sms", f"all providers failed: {detail}")


@dataclass(frozen=True)
class SmsReceipt:
    provider: str
    message_id: str
    status: str


class SmsProvider(Protocol):
    name: str

    async def send(self, to: str, body: str) -> SmsReceipt: ...


def check_sms(to: str, body: str) -> None:
    """Raise ValueError naming the field when a message cannot be an SMS."""
    if not isinstance(to, str) or not E164.match(to):
        raise ValueError(f"to: {to!r} is not an E.164 phone number (+ and 7-15 digits)")
    if not isinstance(body, str) or not body.strip():
        raise ValueError("message: the text is empty")
    if len(body) > MAX_SMS_CHARS:
        raise ValueError(f"message: longer than {MAX_SMS_CHARS} characters")


class TwilioSmsProvider:
    """Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

    ``base_url`` points at Twilio or at any compatible server (our SMS sink).
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        name: str = "twilio",
    ) -> None:
        if not from_number and not messaging_service_sid:
            raise ValueError("from_number or messaging_service_sid is required")
        self.name = name
        self._from = from_number
        self._service = messaging_service_sid
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._client = httpx.AsyncClient(
            auth=(account_sid, auth_token), timeout=httpx.Timeout(timeout), trust_env=False
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, to: str, body: str) -> SmsReceipt:
        form = {"To": to, "Body": body}
        if self._service:
            form["MessagingServiceSid"] = self._service
        if self._from:
            form["From"] = self._from
        try:
            response = await self._client.post(self._url, data=form)
        except httpx.HTTPError as exc:
            raise SmsError(self.name, f"{type(exc).__name__}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if response.status_code >= 300:
            code = payload.get("code")
            raise SmsError(
                self.name,
                str(payload.get("message") or f"HTTP {response.status_code}"),
                code=code if isinstance(code, int) else None,
                status=response.status_code,
                message_problem=code in _MESSAGE_ERROR_CODES,
            )
        sid = payload.get("sid")
        if not isinstance(sid, str):
            raise SmsError(self.name, "response has no message sid", status=response.status_code)
        return SmsReceipt(self.name, sid, str(payload.get("status", "queued")))


class ConsoleSmsProvider:
    """Writes messages to a stream (stdout by default); for development."""

    def __init__(self, stream: TextIO | None = None, *, name: str = "console") -> None:
        self.name = name
        self._stream = stream

    async def send(self, to: str, body: str) -> SmsReceipt:
        stream = self._stream or sys.stdout
        message_id = f"console-{uuid.uuid4().hex}"
        stream.write(f"SMS {message_id} to {to}: {body}\n")
        stream.flush()
        return SmsReceipt(self.name, message_id, "sent")


class SmsSender:
    """Sends through the first provider that succeeds."""

    def __init__(self, providers: Sequence[SmsProvider]) -> None:
        if not providers:
            raise ValueError("providers: at least one SMS provider is needed")
        self.providers = list(providers)

    async def send(self, to: str, body: str) -> SmsReceipt:
        check_sms(to, body)
        errors: list[SmsError] = []
        for provider in self.providers:
            try:
                return await provider.send(to, body)
            except SmsError as exc:
                if exc.message_problem:
                    raise
                errors.append(exc)
        raise AllProvidersFailed(errors)
