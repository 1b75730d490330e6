"""Async WhatsApp Cloud API client on aiohttp.

It and its twin run the plans of :class:`~mimeiapify.whatsapp.protocol.WhatsAppProtocol`;
only the transport differs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from mimeiapify._drivers import AsyncSession
from mimeiapify._plan import RetryPolicy
from mimeiapify.whatsapp._client import ClientAttributes
from mimeiapify.whatsapp.models import MediaInfo, SentMessage
from mimeiapify.whatsapp.protocol import DEFAULT_THROUGHPUT, MEDIA_MAX_BYTES, WhatsAppProtocol


class WhatsAppAsync(ClientAttributes, AsyncSession):
    """Async client for one WhatsApp business phone number.

    ``session``: none (a session per call), ``async with client`` (one for the block),
    or your own ``aiohttp.ClientSession`` (never closed by the client).
    ``api_url``/``api_version`` default to ``$WHATSAPP_API_URL``/``$WHATSAPP_API_VERSION``,
    then Meta's; ``throughput`` is the number's messages per second, shared by every
    client of the number in this process.
    """

    def __init__(
        self,
        phone_number_id: str,
        access_token: str,
        session: aiohttp.ClientSession | None = None,
        *,
        api_url: str | None = None,
        api_version: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        throughput: int | None = DEFAULT_THROUGHPUT,
    ) -> None:
        self.protocol = WhatsAppProtocol(
            phone_number_id,
            access_token,
            api_url=api_url,
            api_version=api_version,
            retry=retry,
            throughput=throughput,
        )
        super().__init__(session, timeout)

    def __repr__(self) -> str:
        return f"WhatsAppAsync(phone_number_id={self.protocol.phone_number_id!r})"

    async def send_text(
        self, to: str, body: str, preview_url: bool = False, reply_to: str | None = None
    ) -> SentMessage:
        """A text message (up to 4,096 characters); ``reply_to`` quotes a message id."""
        return await self._run(self.protocol.send_text(to, body, preview_url, reply_to))

    async def send_template(
        self,
        to: str,
        name: str,
        language: str,
        components: Sequence[Mapping[str, Any]] | None = None,
        reply_to: str | None = None,
    ) -> SentMessage:
        """An approved template (``components=body_parameters("Ana")``); needs no 24-hour window."""
        return await self._run(
            self.protocol.send_template(to, name, language, components, reply_to)
        )

    async def send_interactive(self, to: str, kind: str, body: str, **options: Any) -> SentMessage:
        """Reply buttons (``kind="button", buttons=[{"id", "title"}]``), a list
        (``kind="list", button=..., sections=[...]``) or a call-to-action URL
        (``kind="cta_url", display_text=..., url=...``); ``header``, ``footer`` optional."""
        return await self._run(self.protocol.send_interactive(to, kind, body, **options))

    async def send_media(
        self,
        to: str,
        kind: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
    ) -> SentMessage:
        """An image, audio, video, document or sticker, by uploaded ``media_id`` or ``link``."""
        return await self._run(
            self.protocol.send_media(to, kind, media_id, link, caption, filename, reply_to)
        )

    async def send_location(
        self,
        to: str,
        latitude: float,
        longitude: float,
        name: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> SentMessage:
        """A location pin."""
        return await self._run(
            self.protocol.send_location(to, latitude, longitude, name, address, reply_to)
        )

    async def send_contacts(
        self, to: str, contacts: Sequence[Mapping[str, Any]], reply_to: str | None = None
    ) -> SentMessage:
        """Contact cards (Meta's contact objects; ``name.formatted_name`` required)."""
        return await self._run(self.protocol.send_contacts(to, contacts, reply_to))

    async def send_reaction(self, to: str, message_id: str, emoji: str) -> SentMessage:
        """React to a message with an emoji (``""`` removes the reaction)."""
        return await self._run(self.protocol.send_reaction(to, message_id, emoji))

    async def mark_as_read(self, message_id: str) -> bool:
        """Mark an inbound message (and the ones before it) as read."""
        return await self._run(self.protocol.mark_as_read(message_id))

    async def send_typing_indicator(self, message_id: str) -> bool:
        """Mark as read and show "typing..." until the reply (at most 25 seconds)."""
        return await self._run(self.protocol.mark_as_read(message_id, typing=True))

    async def upload_media(
        self, file: str | os.PathLike[str] | bytes, mime_type: str, filename: str | None = None
    ) -> str:
        """Upload a file (a path, streamed from disk, or bytes); returns the media id."""
        return await self._run(self.protocol.upload_media(file, mime_type, filename))

    async def get_media(self, media_id: str) -> MediaInfo:
        """The media's download URL, MIME type, size and SHA-256."""
        return await self._run(self.protocol.get_media(media_id))

    async def download_media(
        self,
        media_id: str,
        path: str | os.PathLike[str] | None = None,
        max_bytes: int = MEDIA_MAX_BYTES["document"],
    ) -> Any:
        """The bytes; with ``path``, streamed into that file (returns its :class:`MediaInfo`)."""
        return await self._run(
            self.protocol.download_media(
                media_id, None if path is None else os.fspath(path), max_bytes
            )
        )

    async def delete_media(self, media_id: str) -> bool:
        """Delete an uploaded media."""
        return await self._run(self.protocol.delete_media(media_id))
