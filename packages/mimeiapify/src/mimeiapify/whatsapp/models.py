"""Typed results of the WhatsApp connector: sends, media, inbound messages and statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SentContact:
    input: str
    wa_id: str


@dataclass(frozen=True)
class SentMessage:
    """Meta's answer to a send: who it went to and the message id (``wamid....``)."""

    contacts: tuple[SentContact, ...]
    message_ids: tuple[str, ...]
    message_status: str | None = None  # "accepted", "held_for_quality_assessment", ...
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.message_ids[0]

    @property
    def wa_id(self) -> str | None:
        return self.contacts[0].wa_id if self.contacts else None

    @classmethod
    def from_api(cls, body: Any) -> SentMessage:
        contacts = tuple(
            SentContact(str(c.get("input", "")), str(c.get("wa_id", "")))
            for c in body.get("contacts", [])
            if isinstance(c, dict)
        )
        messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
        return cls(
            contacts=contacts,
            message_ids=tuple(str(m["id"]) for m in messages if "id" in m),
            message_status=messages[0].get("message_status") if messages else None,
            raw=body,
        )


@dataclass(frozen=True)
class MediaInfo:
    """``GET /{media_id}``: a short-lived download URL and what it holds."""

    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int

    @classmethod
    def from_api(cls, body: Any) -> MediaInfo:
        return cls(
            id=str(body["id"]),
            url=str(body["url"]),
            mime_type=str(body.get("mime_type", "")),
            sha256=str(body.get("sha256", "")),
            file_size=int(body.get("file_size", 0)),
        )


@dataclass(frozen=True)
class ErrorDetail:
    """An error object inside a webhook (a failed status, an unsupported message)."""

    code: int | None
    title: str | None
    message: str | None
    details: str | None

    @classmethod
    def from_api(cls, err: Any) -> ErrorDetail:
        data = err["error_data"] if isinstance(err.get("error_data"), dict) else {}
        code = err.get("code")
        return cls(
            code=int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
            title=err.get("title"),
            message=err.get("message"),
            details=data.get("details"),
        )


@dataclass(frozen=True)
class InboundMessage:
    """One message a WhatsApp user sent to the business.

    ``type`` is Meta's (text, image, audio, video, document, sticker, location,
    contacts, interactive, button, reaction, order, system, unsupported, ...);
    ``content`` is the object under that type's key, as Meta sent it, and the
    properties below read the common parts of it.
    """

    id: str
    wa_id: str  # the sender (``from``)
    type: str
    timestamp: int
    phone_number_id: str
    display_phone_number: str | None
    profile_name: str | None
    context_id: str | None  # the message this one replies to
    content: Any
    errors: tuple[ErrorDetail, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str | None:
        """The words of the message whatever its type: a text body, a caption,
        a button's text, an interactive reply's title."""
        c = self.content if isinstance(self.content, dict) else {}
        if self.type == "text":
            return c.get("body")
        if self.type in ("image", "video", "document"):
            return c.get("caption")
        if self.type == "button":
            return c.get("text")
        if self.type == "interactive":
            reply = self.reply
            return reply.get("title") if reply else None
        if self.type == "system":
            return c.get("body")
        return None

    @property
    def media_id(self) -> str | None:
        if self.type in ("image", "audio", "video", "document", "sticker") and isinstance(
            self.content, dict
        ):
            return self.content.get("id")
        return None

    @property
    def reply(self) -> dict[str, Any] | None:
        """An interactive reply (``button_reply`` or ``list_reply``: id, title, description)."""
        if self.type != "interactive" or not isinstance(self.content, dict):
            return None
        kind = self.content.get("type")
        found = self.content.get(kind) if isinstance(kind, str) else None
        return found if isinstance(found, dict) else None

    @property
    def reaction(self) -> tuple[str, str] | None:
        """(the reacted-to message id, the emoji)."""
        if self.type != "reaction" or not isinstance(self.content, dict):
            return None
        return (str(self.content.get("message_id", "")), str(self.content.get("emoji", "")))


@dataclass(frozen=True)
class StatusUpdate:
    """What happened to a message the business sent: sent, delivered, read or failed."""

    id: str  # the message id (``wamid....``)
    status: str
    timestamp: int
    recipient_id: str
    phone_number_id: str
    errors: tuple[ErrorDetail, ...] = ()
    conversation: dict[str, Any] | None = None
    pricing: dict[str, Any] | None = None
    biz_opaque_callback_data: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def error(self) -> ErrorDetail | None:
        return self.errors[0] if self.errors else None


@dataclass(frozen=True)
class WebhookBatch:
    """Everything one webhook POST carried."""

    messages: tuple[InboundMessage, ...]
    statuses: tuple[StatusUpdate, ...]
    errors: tuple[ErrorDetail, ...] = ()  # ``value.errors`` (not tied to a message)
