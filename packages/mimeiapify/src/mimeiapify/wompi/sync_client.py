"""Sync Wompi client on requests.

>>> with Wompi(public_key="pub_test_...", integrity_key="test_integrity_...") as wompi:
...     checkout = wompi.generate_checkout_url(amount_in_cents=10000, currency="COP")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import requests

from mimeiapify._drivers import SyncSession
from mimeiapify.wompi._client import ClientAttributes
from mimeiapify.wompi.protocol import (
    Environment,
    TransactionOptions,
    WompiProtocol,
    WompiSettings,
)


class Wompi(ClientAttributes, SyncSession):
    """Sync client for one Wompi merchant.

    Keys in 1.4's order: ``public_key``, ``private_key`` (or ``$WOMPI_PRIVATE_KEY``;
    needed to search transactions by reference and for payment links),
    ``integrity_key``. With no ``environment`` the public key's prefix decides
    (``pub_test_`` sandbox, ``pub_prod_`` production). ``api_url`` defaults to
    ``$WOMPI_API_URL``, then the environment's public URL.
    """

    def __init__(
        self,
        public_key: str,
        private_key: str | None = None,
        integrity_key: str | None = None,
        environment: Environment | None = None,
        session: requests.Session | None = None,
        *,
        timeout: float = 30.0,
        **settings: Unpack[WompiSettings],
    ) -> None:
        self.protocol = WompiProtocol(
            public_key, integrity_key, private_key=private_key, environment=environment, **settings
        )
        super().__init__(session, timeout)

    def __repr__(self) -> str:
        return f"Wompi(environment={self.protocol.environment!r})"

    def generate_checkout_url(
        self,
        amount_in_cents: int,
        reference: str | None = None,
        currency: str = "COP",
        redirect_url: str | None = None,
        expiration_time: str | None = None,
        tax_vat_in_cents: int | None = None,
        tax_consumption_in_cents: int | None = None,
        customer_data: Mapping[str, Any] | None = None,
        shipping_address: Mapping[str, Any] | None = None,
        collect_shipping: bool | None = None,
        collect_customer_legal_id: bool | None = None,
    ) -> dict[str, Any]:
        """A Web Checkout URL with every parameter given and its integrity signature.

        ``reference`` is generated when not given; ``expiration_time`` is ISO 8601
        with a zone; a tax of 0 is kept. ``customer_data`` keys: email, full-name,
        phone-number, phone-number-prefix, legal-id, legal-id-type.
        ``shipping_address`` keys: address-line-1, address-line-2, country,
        phone-number, city, region, name, postal-code. Returns ``checkout_url`` and
        ``reference`` (as 1.4) plus ``signature``, ``amount_in_cents``, ``currency``
        and the ``params``. Sends no request.
        """
        return self.protocol.checkout(
            amount_in_cents,
            reference,
            currency,
            redirect_url,
            expiration_time,
            tax_vat_in_cents,
            tax_consumption_in_cents,
            customer_data,
            shipping_address,
            collect_shipping,
            collect_customer_legal_id,
        )

    def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        """Wompi's answer for one transaction: ``{"data": {...}}``."""
        return self._run(self.protocol.get_transaction(transaction_id))

    def get_transaction_by_reference(self, reference: str) -> list[dict[str, Any]]:
        """The transactions with this reference (a list); needs the private key."""
        return self._run(self.protocol.get_transaction_by_reference(reference))

    def get_acceptance_tokens(self) -> dict[str, Any]:
        """The merchant's presigned acceptance tokens (``acceptance_token``, ...)."""
        return self._run(self.protocol.get_acceptance_tokens())

    def tokenize_card(
        self, number: str, cvc: str, exp_month: str, exp_year: str, card_holder: str
    ) -> str:
        """Tokenize a card; returns the token id for ``create_transaction``."""
        return self._run(self.protocol.tokenize_card(number, cvc, exp_month, exp_year, card_holder))

    def create_transaction(
        self,
        amount_in_cents: int,
        customer_email: str,
        payment_method: Mapping[str, Any],
        **options: Unpack[TransactionOptions],
    ) -> dict[str, Any]:
        """Create a signed transaction; see :meth:`WompiProtocol.create_transaction`."""
        return self._run(
            self.protocol.create_transaction(
                amount_in_cents, customer_email, payment_method, **options
            )
        )

    def create_payment_link(self, name: str, description: str, **options: Any) -> dict[str, Any]:
        """Create a payment link; see :meth:`WompiProtocol.create_payment_link`."""
        return self._run(self.protocol.create_payment_link(name, description, **options))

    def get_payment_link(self, link_id: str) -> dict[str, Any]:
        return self._run(self.protocol.get_payment_link(link_id))
