"""What both Wompi clients share besides the transport: 1.4's attributes,
``generate_reference`` and webhook verification (one implementation, in
:func:`~mimeiapify.wompi.protocol.verify_event`)."""

from __future__ import annotations

from typing import Any

from mimeiapify.wompi.protocol import WompiProtocol, generate_reference, verify_event


class ClientAttributes:
    """1.4's attributes, read from the client's protocol."""

    protocol: WompiProtocol

    @property
    def public_key(self) -> str:
        return self.protocol.public_key

    @property
    def private_key(self) -> str | None:
        return self.protocol.private_key

    @property
    def integrity_key(self) -> str:
        return self.protocol.integrity_key

    @property
    def environment(self) -> str:
        return self.protocol.environment

    @property
    def api_url(self) -> str:
        return self.protocol.api_url

    @api_url.setter
    def api_url(self, url: str) -> None:  # 1.4 code points clients elsewhere this way
        self.protocol.api_url = url.rstrip("/")

    @property
    def base_url(self) -> str:
        """The Web Checkout page URLs start with."""
        return self.protocol.checkout_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self.protocol.checkout_url = url

    @staticmethod
    def generate_reference() -> str:
        """A fresh, unique payment reference (32 hex digits)."""
        return generate_reference()

    @staticmethod
    def verify_webhook_event(
        event_data: Any,
        events_secret: str,
        checksum: str | None = None,
        *,
        max_age_seconds: float | None = None,
    ) -> bool:
        """True when the event is authentic (constant-time checksum comparison); False
        for a forged, malformed or unverifiable event (also when ``events_secret`` is
        empty, as in 1.4).

        Unlike 1.4, the properties the checksum covers are not taken on the
        sender's word: the event must sign what Wompi signs for its type
        (``transaction.id``, ``transaction.status`` and ``transaction.amount_in_cents``
        for ``transaction.updated``) and carry nothing else in ``data``.
        ``checksum`` lets you pass the ``X-Event-Checksum`` header instead of
        the body's ``signature.checksum``; ``max_age_seconds`` refuses events
        signed longer ago than that (a captured event replayed later).
        """
        return verify_event(event_data, events_secret, checksum, max_age_seconds=max_age_seconds)
