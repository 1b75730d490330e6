"""Request and response bodies of the notification API."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.\-]{1,253}\.[A-Za-z0-9\-]{2,63}\Z")
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}\Z")
Priority = Literal["low", "normal", "high", "critical"]


def _recipients(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    channel: Literal["email", "sms"] = "email"
    subject: str = Field(default="", max_length=1000)
    body: str = Field(default="", max_length=100_000)
    html_body: str | None = Field(default=None, max_length=100_000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TEMPLATE_NAME.match(value):
            raise ValueError("letters, digits and . _ - only")
        return value


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=100_000)
    html_body: str | None = Field(default=None, max_length=100_000)


class TemplateOut(BaseModel):
    id: str
    name: str
    channel: str
    subject: str
    body: str
    html_body: str | None
    variables: list[str]
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_data: dict[str, Any] = Field(default_factory=dict)


class PreviewOut(BaseModel):
    subject: str
    body: str
    html_body: str | None


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_base64: str = Field(max_length=14_000_000)
    content_type: str | None = Field(default=None, max_length=200)

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"attachments: {self.filename} is not valid base64") from None


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1)
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=1_000_000)
    html_body: str | None = Field(default=None, max_length=1_000_000)
    template_id: str | None = Field(default=None, max_length=200)
    template_data: dict[str, Any] = Field(default_factory=dict)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)
    priority: Priority = "normal"

    _to = field_validator("to", mode="before")(_recipients)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return value


class SmsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1)
    message: str | None = Field(default=None, max_length=1600)
    template_id: str | None = Field(default=None, max_length=200)
    template_data: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = "normal"

    _to = field_validator("to", mode="before")(_recipients)

    @field_validator("to")
    @classmethod
    def _numbers(cls, value: list[str]) -> list[str]:
        for number in value:
            if not re.match(r"^\+[1-9]\d{6,14}\Z", number):
                raise ValueError(f"{number!r} is not an E.164 phone number (+ and 7-15 digits)")
        return value


class NotificationOut(BaseModel):
    id: str
    channel: str
    recipient: str
    subject: str
    status: str
    priority: str
    attempts: int
    provider: str | None
    provider_message_id: str | None
    last_error: str | None
    template_id: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


class NotificationDetail(NotificationOut):
    """One notification with the message as it was rendered when accepted: what was
    (or will be) sent, so a reader sees it without a sink that kept a copy. The
    renderer caps each field (``MAX_RENDERED_CHARS``), so nothing stored is unbounded."""

    body: str
    html_body: str | None


class SendOut(BaseModel):
    status: str
    duplicate: bool
    notifications: list[NotificationOut]


class NotificationSummary(BaseModel):
    """The tenant's notifications created at or after ``since``, by status."""

    since: datetime
    total: int
    by_status: dict[str, int]
