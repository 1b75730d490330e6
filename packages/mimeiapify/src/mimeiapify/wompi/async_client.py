"""Async Wompi client on aiohttp.

>>> async with WompiAsync(public_key="pub_test_...", integrity_key="test_integrity_...") as wompi:
...     checkout = await wompi.generate_checkout_url(amount_in_cents=10000, currency="COP")

Sessions work as for :class:`~mimeiapify.airtable.AirtableAsync`: per call,
``async with``, or a caller-owned ``aiohttp.ClientSession`` that is never closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import aiohttp

from mimeiapify._drivers import AsyncSession
from mimeiapify.wompi.protocol import (
    CheckoutOptions,
    Environment,
    PaymentLinkOptions,
    TransactionOptions,
    WompiProtocol,
    WompiSettings,
    verify_event,
)


class WompiAsync(AsyncSession):
    """Async client for one Wompi merchant.

    ``private_key`` (or ``$WOMPI_PRIVATE_KEY``) is needed for searching
    transactions by reference and for payment links. ``api_url`` defaults to
    ``$WOMPI_API_URL``, then the environment's public URL.
    """

    def __init__(
        self,
        public_key: str,
        integrity_key: str,
        private_key: str | None = None,
        environment: Environment = "sandbox",
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 30.0,
        **settings: Unpack[WompiSettings],
    ) -> None:
        self.protocol = WompiProtocol(
            public_key, integrity_key, private_key=private_key, environment=environment, **settings
        )
        super().__init__(session, timeout)

    def __repr__(self) -> str:
        return f"WompiAsync(environment={self.protocol.environment!r})"

    async def generate_checkout_url(
        self, amount_in_cents: int, **options: Unpack[CheckoutOptions]
    ) -> dict[str, Any]:
        """A Web Checkout URL with every parameter given and its integrity signature.

        Options: currency (default "COP"), reference (generated when not given),
        redirect_url, expiration_time (ISO 8601 with a zone), tax_vat_in_cents,
        tax_consumption_in_cents (0 is kept), customer_data (email, full-name,
        phone-number, phone-number-prefix, legal-id, legal-id-type),
        shipping_address (address-line-1, address-line-2, country, phone-number,
        city, region, name, postal-code), collect_shipping, collect_customer_legal_id.
        Returns ``checkout_url``, ``reference``, ``signature``, ``amount_in_cents``,
        ``currency`` and the ``params``. Sends no request.
        """
        return self.protocol.checkout(amount_in_cents, **options)

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        """Wompi's answer for one transaction: ``{"data": {...}}``."""
        return await self._run(self.protocol.get_transaction(transaction_id))

    async def get_transaction_by_reference(self, reference: str) -> list[dict[str, Any]]:
        """The transactions with this reference (a list); needs the private key."""
        return await self._run(self.protocol.get_transaction_by_reference(reference))

    async def get_acceptance_tokens(self) -> dict[str, Any]:
        """The merchant's presigned acceptance tokens (``acceptance_token``, ...)."""
        return await self._run(self.protocol.get_acceptance_tokens())

    async def tokenize_card(
        self, number: str, cvc: str, exp_month: str, exp_year: str, card_holder: str
    ) -> str:
        """Tokenize a card; returns the token id for ``create_transaction``."""
        return await self._run(
            self.protocol.tokenize_card(number, cvc, exp_month, exp_year, card_holder)
        )

    async def create_transaction(
        self,
        amount_in_cents: int,
        customer_email: str,
        payment_method: Mapping[str, Any],
        **options: Unpack[TransactionOptions],
    ) -> dict[str, Any]:
        """Create a signed transaction; see :meth:`WompiProtocol.create_transaction`."""
        return await self._run(
            self.protocol.create_transaction(
                amount_in_cents, customer_email, payment_method, **options
            )
        )

    async def create_payment_link(
        self, name: str, description: str, **options: Unpack[PaymentLinkOptions]
    ) -> dict[str, Any]:
        """Create a payment link; see :meth:`WompiProtocol.create_payment_link`."""
        return await self._run(self.protocol.create_payment_link(name, description, **options))

    async def get_payment_link(self, link_id: str) -> dict[str, Any]:
        return await self._run(self.protocol.get_payment_link(link_id))

    @staticmethod
    def verify_webhook_event(
        event_data: Any, events_secret: str, checksum: str | None = None
    ) -> bool:
        """True when the event is authentic (constant-time checksum comparison).

        ``checksum`` lets you pass the ``X-Event-Checksum`` header instead of
        the body's ``signature.checksum``.
        """
        return verify_event(event_data, events_secret, checksum)
