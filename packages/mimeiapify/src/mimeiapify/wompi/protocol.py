"""The Wompi protocol, free of I/O: checkout URLs, signatures, request plans, errors.

:class:`WompiProtocol` holds the merchant keys and turns each operation into a
plan (:mod:`mimeiapify._plan`) that :class:`~mimeiapify.wompi.WompiAsync`
and :class:`~mimeiapify.wompi.Wompi` run. The signature helpers are plain
functions so a webhook endpoint can use them without a client.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal, TypedDict
from urllib.parse import quote, urlencode, urlsplit

from mimeiapify._plan import (
    CONNECTOR_RETRY,
    ApiErrors,
    HttpRequest,
    HttpResponse,
    Plan,
    RetryPolicy,
    call_json,
)
from mimeiapify.errors import (
    WompiAuthError,
    WompiConfigurationError,
    WompiConnectionError,
    WompiError,
    WompiNotFoundError,
    WompiOutcomeUnknownError,
    WompiServerError,
    WompiValidationError,
)

Environment = Literal["sandbox", "production"]
API_URLS: dict[str, str] = {
    "sandbox": "https://sandbox.wompi.co/v1",
    "production": "https://production.wompi.co/v1",
}
CHECKOUT_URL = "https://checkout.wompi.co/p/"
PAYMENT_LINK_URL = "https://checkout.wompi.co/l/"
_KEY_PREFIXES = {
    "sandbox": {"public_key": "pub_test_", "private_key": "prv_test_"},
    "production": {"public_key": "pub_prod_", "private_key": "prv_prod_"},
}
_KEY_ORDER = "public_key, private_key, integrity_key"  # 1.4's positional order
_SECRET_ENV = {"sandbox": "test_", "production": "prod_"}
CUSTOMER_DATA_KEYS = (
    "email", "full-name", "phone-number", "phone-number-prefix", "legal-id", "legal-id-type",
)  # fmt: skip
SHIPPING_ADDRESS_KEYS = (
    "address-line-1", "address-line-2", "country", "phone-number", "city", "region", "name",
    "postal-code",
)  # fmt: skip
_CURRENCY = re.compile(r"[A-Z]{3}")


class WompiSettings(TypedDict, total=False):
    """Client settings beyond keys and environment (see :class:`WompiProtocol`)."""

    api_url: str | None
    checkout_url: str | None
    retry: RetryPolicy | None


class TransactionOptions(TypedDict, total=False):
    """Optional parameters of :meth:`WompiProtocol.create_transaction`."""

    reference: str | None
    currency: str
    acceptance_token: str | None
    accept_personal_auth: str | None
    redirect_url: str | None
    expiration_time: str | None
    customer_data: Mapping[str, Any] | None
    shipping_address: Mapping[str, Any] | None


class PaymentLinkOptions(TypedDict, total=False):
    """Optional parameters of :meth:`WompiProtocol.create_payment_link`."""

    single_use: bool
    collect_shipping: bool
    amount_in_cents: int | None
    currency: str
    expires_at: str | None
    redirect_url: str | None
    sku: str | None


# ---------------------------------------------------------------- signatures


def integrity_signature(
    reference: str,
    amount_in_cents: int,
    currency: str,
    integrity_secret: str,
    expiration_time: str | None = None,
) -> str:
    """SHA-256 of reference + amount + currency (+ expiration time) + integrity secret."""
    text = f"{reference}{amount_in_cents}{currency}{expiration_time or ''}{integrity_secret}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# What Wompi signs for each event type (https://docs.wompi.co, "Eventos"): the
# checksum covers these properties of ``data`` whatever ``signature.properties``
# the sender lists, so a captured event cannot be re-pointed at other values.
SIGNED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "transaction.updated": (
        "transaction.id", "transaction.status", "transaction.amount_in_cents",
    ),
    "nequi_token.updated": ("nequi_token.id", "nequi_token.status"),
    "bancolombia_transfer_token.updated": (
        "bancolombia_transfer_token.id", "bancolombia_transfer_token.status",
    ),
}  # fmt: skip
# Signed values are scalars; a list or object has no defined text form.
_SCALARS = (str, int, float, bool, type(None))
# How far ahead of our clock a signed timestamp may be (clock skew).
MAX_CLOCK_SKEW_SECONDS = 300.0


def required_properties(event_type: str) -> tuple[str, ...]:
    """The ``data`` paths an event of ``event_type`` must have signed.

    Known types use :data:`SIGNED_PROPERTIES`; any other ``<resource>.<verb>``
    must sign at least ``<resource>.id`` and ``<resource>.status``.
    """
    if event_type in SIGNED_PROPERTIES:
        return SIGNED_PROPERTIES[event_type]
    resource = event_type.partition(".")[0]
    return (f"{resource}.id", f"{resource}.status")


def _value_at(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def _as_signed_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def event_checksum(event: Mapping[str, Any], events_secret: str) -> str:
    """The checksum Wompi puts on an event (upper-case hex SHA-256).

    Concatenate the values of ``event["data"]`` at each path listed in
    ``signature.properties``, then ``timestamp``, then the events secret.
    This only computes; :func:`verify_event` decides whether the listed
    properties are the ones that must be signed.
    """
    properties = event["signature"]["properties"]
    if not isinstance(properties, list):
        raise KeyError("signature.properties")
    values = "".join(_as_signed_text(_value_at(event["data"], p)) for p in properties)
    text = f"{values}{event['timestamp']}{events_secret}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def event_problem(event: Mapping[str, Any]) -> str | None:
    """Why the event's shape cannot be trusted even with a matching checksum, or None.

    - ``event`` names a type and ``data`` holds only that type's resource
      (``data.transaction`` for ``transaction.updated``), so nothing unsigned
      rides next to it (a ``data.blob`` holding a concatenation, say);
    - ``signature.properties`` lists every property Wompi signs for the type
      (:func:`required_properties`), each once, and each points at a scalar
      in the event;
    - ``timestamp`` is an integer (epoch seconds).
    """
    event_type, data, signature = event.get("event"), event.get("data"), event.get("signature")
    if not isinstance(event_type, str) or "." not in event_type:
        return "event: must name the event type (e.g. transaction.updated)"
    if not isinstance(data, Mapping) or not isinstance(signature, Mapping):
        return "data and signature: required objects"
    resource = event_type.partition(".")[0]
    if set(data) != {resource} or not isinstance(data[resource], Mapping):
        return f"data: must hold exactly the {resource!r} object for {event_type}"
    properties = signature.get("properties")
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        return "signature.properties: must be a list of property paths"
    if len(set(properties)) != len(properties):
        return "signature.properties: lists a property twice"
    missing = [p for p in required_properties(event_type) if p not in properties]
    if missing:
        return f"signature.properties: does not sign {', '.join(missing)}"
    for path in properties:
        try:
            value = _value_at(data, path)
        except KeyError:
            return f"signature.properties: {path!r} is not in the event"
        if not isinstance(value, _SCALARS):
            return f"signature.properties: {path!r} is not a single value"
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return "timestamp: must be an integer (epoch seconds)"
    return None


def event_age_problem(
    event: Mapping[str, Any], max_age_seconds: float | None, now: float | None = None
) -> str | None:
    """Why the event's signed ``timestamp`` is too old (or too far ahead), or None."""
    if max_age_seconds is None:
        return None
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return "timestamp: must be a number (epoch seconds)"
    now = time.time() if now is None else now
    if now - timestamp > max_age_seconds:
        return "event is older than max_age_seconds"
    if timestamp - now > MAX_CLOCK_SKEW_SECONDS:
        return "event timestamp is in the future"
    return None


def verify_event(
    event: Any,
    events_secret: str,
    checksum: str | None = None,
    *,
    max_age_seconds: float | None = None,
) -> bool:
    """True when the event is authentic and whole: its checksum (or ``checksum``,
    e.g. the ``X-Event-Checksum`` header) matches in constant time, it signs the
    properties Wompi signs for its type and carries nothing beside them
    (:func:`event_problem`), and, with ``max_age_seconds``, it is not older than
    that. Malformed events, and an empty ``events_secret``, are False."""
    if not isinstance(events_secret, str) or not events_secret:
        return False  # as 1.4: no secret configured means nothing can be verified
    if not isinstance(event, Mapping):
        return False
    try:
        expected = event_checksum(event, events_secret)
        given = checksum if checksum is not None else event["signature"]["checksum"]
    except (KeyError, TypeError):
        return False
    if not isinstance(given, str):
        return False
    matches = hmac.compare_digest(expected.encode(), given.strip().upper().encode())
    if not matches or event_problem(event) is not None:
        return False
    if not _same_environment(event.get("environment"), events_secret):
        return False
    return event_age_problem(event, max_age_seconds) is None


def _same_environment(environment: Any, events_secret: str) -> bool:
    """``environment`` is not signed: a ``test`` event must not pass with a
    ``prod_events_`` secret or the other way round (when both are recognisable)."""
    for name, prefix in (("prod", "prod_events_"), ("test", "test_events_")):
        if events_secret.startswith(prefix):
            return environment in (None, name)
    return True


# ---------------------------------------------------------------- errors


def error_from_response(response: HttpResponse) -> WompiError:
    body = response.json_or_none()
    error_type: str | None = None
    message = f"Wompi answered {response.status}"
    field: str | None = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        error_type = err.get("type")
        messages = err.get("messages")
        if isinstance(messages, dict) and messages:
            field = next(iter(messages))
            message = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in messages.items())
        elif err.get("reason"):
            message = str(err["reason"])
    cls: type[WompiError]
    if response.status in (401, 403):
        cls = WompiAuthError
    elif response.status == 404:
        cls = WompiNotFoundError
    elif response.status in (400, 422):
        cls = WompiValidationError
    else:
        cls = WompiServerError
    return cls(message, status=response.status, error_type=error_type, field=field, body=body)


_ERRORS = ApiErrors(
    "Wompi", error_from_response, WompiOutcomeUnknownError, WompiConnectionError, WompiServerError
)


def _bad(field: str, message: str) -> WompiValidationError:
    return WompiValidationError(f"{field}: {message}", field=field)


def _check_positive_int(value: Any, field: str, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(field, f"must be an integer number of cents, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise _bad(field, "must be positive" if not allow_zero else "must not be negative")
    return value


def _check_text(value: Any, field: str, max_len: int = 255) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(field, "must be a non-empty string")
    if len(value) > max_len:
        raise _bad(field, f"must be at most {max_len} characters")
    return value


def _check_url(value: Any, field: str) -> str:
    _check_text(value, field, 2000)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad(field, "must be an http(s) URL")
    return str(value)


def _check_currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise _bad("currency", "must be a 3-letter ISO code such as 'COP'")
    return value


def _check_time(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(field, "must be an ISO 8601 string")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(field, f"is not ISO 8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise _bad(field, "needs a time zone (e.g. +00:00)")
    return value


def _dashed(data: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> dict[str, str]:
    if not isinstance(data, Mapping):
        raise _bad(field, "must be a mapping")
    out: dict[str, str] = {}
    for key, value in data.items():
        name = str(key).replace("_", "-")
        if name not in allowed:
            raise _bad(f"{field}.{key}", f"unknown key; allowed: {', '.join(allowed)}")
        if value is None:
            continue
        if not isinstance(value, str | int):
            raise _bad(f"{field}.{key}", "must be a string")
        out[name] = str(value)
    return out


# ---------------------------------------------------------------- keys


def environment_of(public_key: Any) -> Environment:
    """The environment a public key belongs to (``pub_test_`` sandbox, ``pub_prod_``
    production), which is what 1.4 clients get when they name none."""
    if isinstance(public_key, str):
        for env, prefixes in _KEY_PREFIXES.items():
            if public_key.startswith(prefixes["public_key"]):
                return env  # type: ignore[return-value]
    raise WompiConfigurationError(
        "public_key must start with 'pub_test_' (sandbox) or 'pub_prod_' (production), "
        "or pass environment=",
        field="public_key",
    )


def generate_reference() -> str:
    """A fresh payment reference: 32 hex digits (a UUID4 without dashes)."""
    return uuid.uuid4().hex


# ---------------------------------------------------------------- the protocol


class WompiProtocol:
    """Merchant keys, environment and every Wompi operation as a plan.

    The environment must agree with the keys' prefixes (``pub_test_`` and
    ``prv_test_`` for sandbox, ``pub_prod_`` and ``prv_prod_`` for production);
    a mismatch is a :class:`WompiConfigurationError` here, not a 401 later.
    ``private_key`` defaults to ``$WOMPI_PRIVATE_KEY`` and ``api_url`` to
    ``$WOMPI_API_URL``, then the environment's public URL.
    """

    def __init__(
        self,
        public_key: str,
        integrity_key: str | None,
        *,
        private_key: str | None = None,
        environment: Environment | None = None,
        api_url: str | None = None,
        checkout_url: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if environment is None:
            environment = environment_of(public_key)
        if environment not in API_URLS:
            raise WompiConfigurationError(
                f"environment must be 'sandbox' or 'production', got {environment!r}",
                field="environment",
            )
        self.environment = environment
        self.public_key = self._check_key("public_key", public_key)
        if private_key is None:
            private_key = os.environ.get("WOMPI_PRIVATE_KEY") or None
        self._private_key = (
            self._check_key("private_key", private_key) if private_key is not None else None
        )
        if not isinstance(integrity_key, str) or not integrity_key:
            raise WompiConfigurationError("integrity_key must be a non-empty string",
                                          field="integrity_key")  # fmt: skip
        if integrity_key.startswith(("prv_test_", "prv_prod_")):
            raise WompiConfigurationError(
                f"integrity_key is a private key; the order is ({_KEY_ORDER})",
                field="integrity_key",
            )
        other = "production" if environment == "sandbox" else "sandbox"
        if integrity_key.startswith(f"{_SECRET_ENV[other]}integrity_"):
            raise WompiConfigurationError(
                f"integrity_key is a {other} secret but environment is {environment!r}",
                field="integrity_key",
            )
        self._integrity_key = integrity_key
        self.api_url = (api_url or os.environ.get("WOMPI_API_URL") or API_URLS[environment]).rstrip(
            "/"
        )
        self.checkout_url = checkout_url or os.environ.get("WOMPI_CHECKOUT_URL") or CHECKOUT_URL
        self.retry = retry or dataclasses.replace(CONNECTOR_RETRY, rate_limit_penalty=2.0)

    def _check_key(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise WompiConfigurationError(f"{name} must be a non-empty string", field=name)
        expected = _KEY_PREFIXES[self.environment][name]
        if not value.startswith(expected):
            kind = name.split("_")[0]
            for env, prefixes in _KEY_PREFIXES.items():
                if value.startswith(prefixes[name]):
                    raise WompiConfigurationError(
                        f"{name} is a {env} key ({prefixes[name]}...) but environment is "
                        f"{self.environment!r}",
                        field=name,
                    )
            hint = ""
            if "_integrity_" in value:
                hint = "; it looks like an integrity secret (the order is " + _KEY_ORDER + ")"
            raise WompiConfigurationError(
                f"{name} must start with {expected!r} (a {kind} key for {self.environment}){hint}",
                field=name,
            )
        return value

    def __repr__(self) -> str:  # keys stay out of logs
        return f"WompiProtocol(environment={self.environment!r}, api_url={self.api_url!r})"

    @property
    def private_key(self) -> str | None:
        return self._private_key

    @property
    def integrity_key(self) -> str:
        return self._integrity_key

    # ------------------------------------------------------------ checkout (no I/O)

    def checkout(
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
        """Build a Web Checkout URL with its integrity signature."""
        amount = _check_positive_int(amount_in_cents, "amount_in_cents")
        currency = _check_currency(currency)
        if reference is None:
            reference = generate_reference()
        _check_text(reference, "reference")
        params: list[tuple[str, str]] = [
            ("public-key", self.public_key),
            ("currency", currency),
            ("amount-in-cents", str(amount)),
            ("reference", reference),
        ]
        if expiration_time is not None:
            expiration_time = _check_time(expiration_time, "expiration_time")
        signature = integrity_signature(
            reference, amount, currency, self._integrity_key, expiration_time
        )
        params.append(("signature:integrity", signature))
        if redirect_url is not None:
            params.append(("redirect-url", _check_url(redirect_url, "redirect_url")))
        if expiration_time is not None:
            params.append(("expiration-time", expiration_time))
        # a tax of 0 is a real value (tax-exempt) and must reach the checkout
        if tax_vat_in_cents is not None:
            vat = _check_positive_int(tax_vat_in_cents, "tax_vat_in_cents", allow_zero=True)
            params.append(("tax-in-cents:vat", str(vat)))
        if tax_consumption_in_cents is not None:
            consumption = _check_positive_int(
                tax_consumption_in_cents, "tax_consumption_in_cents", allow_zero=True
            )
            params.append(("tax-in-cents:consumption", str(consumption)))
        for key, value in _dashed(customer_data or {}, CUSTOMER_DATA_KEYS,
                                  "customer_data").items():  # fmt: skip
            params.append((f"customer-data:{key}", value))
        for key, value in _dashed(shipping_address or {}, SHIPPING_ADDRESS_KEYS,
                                  "shipping_address").items():  # fmt: skip
            params.append((f"shipping-address:{key}", value))
        if collect_shipping is not None:
            params.append(("collect-shipping", "true" if collect_shipping else "false"))
        if collect_customer_legal_id is not None:
            params.append(
                ("collect-customer-legal-id", "true" if collect_customer_legal_id else "false")
            )
        url = f"{self.checkout_url}?{urlencode(params, quote_via=quote)}"
        return {
            "checkout_url": url,
            "reference": reference,
            "signature": signature,
            "amount_in_cents": amount,
            "currency": currency,
            "params": dict(params),
        }

    # ------------------------------------------------------------ plumbing

    def _auth(self, private: bool) -> dict[str, str]:
        if private:
            if self._private_key is None:
                raise WompiConfigurationError(
                    "this operation needs the private key (private_key= or $WOMPI_PRIVATE_KEY)",
                    field="private_key",
                )
            return {"Authorization": f"Bearer {self._private_key}"}
        return {"Authorization": f"Bearer {self.public_key}"}

    def _call(
        self,
        method: str,
        path: str,
        *,
        private: bool = False,
        params: tuple[tuple[str, str], ...] = (),
        json: Any = None,
        idempotent: bool = True,
    ) -> Plan[Any]:
        request = HttpRequest(
            method, f"{self.api_url}{path}", params, json, self._auth(private), idempotent
        )
        return (yield from call_json(request, self.retry, _ERRORS))

    # ------------------------------------------------------------ operations

    def get_transaction(self, transaction_id: str) -> Plan[dict[str, Any]]:
        """The full answer (``{"data": {...}}``) for one transaction id."""
        _check_text(transaction_id, "transaction_id")
        result = yield from self._call("GET", f"/transactions/{quote(transaction_id, safe='')}")
        return result

    def get_transaction_by_reference(self, reference: str) -> Plan[list[dict[str, Any]]]:
        """Transactions carrying ``reference`` (a list, possibly empty); needs the private key."""
        _check_text(reference, "reference")
        result = yield from self._call(
            "GET", "/transactions", private=True, params=(("reference", reference),)
        )
        data = result.get("data", [])
        return data if isinstance(data, list) else [data]

    def get_acceptance_tokens(self) -> Plan[dict[str, Any]]:
        """The merchant's presigned acceptance tokens (terms and personal-data policy)."""
        result = yield from self._call("GET", f"/merchants/{quote(self.public_key, safe='')}")
        data = result.get("data", {})
        return {
            "acceptance_token": data.get("presigned_acceptance", {}).get("acceptance_token"),
            "accept_personal_auth": data.get("presigned_personal_data_auth", {}).get(
                "acceptance_token"
            ),
            "presigned_acceptance": data.get("presigned_acceptance"),
            "presigned_personal_data_auth": data.get("presigned_personal_data_auth"),
        }

    def tokenize_card(
        self, number: str, cvc: str, exp_month: str, exp_year: str, card_holder: str
    ) -> Plan[str]:
        """Tokenize a card with the public key; returns the token id."""
        body = {
            "number": _check_text(number, "number", 19),
            "cvc": _check_text(cvc, "cvc", 4),
            "exp_month": _check_text(exp_month, "exp_month", 2),
            "exp_year": _check_text(exp_year, "exp_year", 2),
            "card_holder": _check_text(card_holder, "card_holder"),
        }
        result = yield from self._call("POST", "/tokens/cards", json=body)
        return str(result["data"]["id"])

    def create_transaction(
        self,
        amount_in_cents: int,
        customer_email: str,
        payment_method: Mapping[str, Any],
        *,
        reference: str | None = None,
        currency: str = "COP",
        acceptance_token: str | None = None,
        accept_personal_auth: str | None = None,
        redirect_url: str | None = None,
        expiration_time: str | None = None,
        customer_data: Mapping[str, Any] | None = None,
        shipping_address: Mapping[str, Any] | None = None,
    ) -> Plan[dict[str, Any]]:
        """Create a transaction (signed); fetches acceptance tokens when not given."""
        amount = _check_positive_int(amount_in_cents, "amount_in_cents")
        currency = _check_currency(currency)
        _check_text(customer_email, "customer_email")
        if "@" not in customer_email:
            raise _bad("customer_email", "is not an email address")
        if not isinstance(payment_method, Mapping) or not payment_method.get("type"):
            raise _bad("payment_method", "must be a mapping with a 'type'")
        reference = reference or generate_reference()
        _check_text(reference, "reference")
        if expiration_time is not None:
            _check_time(expiration_time, "expiration_time")
        if acceptance_token is None:
            tokens = yield from self.get_acceptance_tokens()
            acceptance_token = tokens["acceptance_token"]
            accept_personal_auth = accept_personal_auth or tokens["accept_personal_auth"]
        body: dict[str, Any] = {
            "acceptance_token": acceptance_token,
            "amount_in_cents": amount,
            "currency": currency,
            "customer_email": customer_email,
            "reference": reference,
            "payment_method": dict(payment_method),
            "signature": integrity_signature(
                reference, amount, currency, self._integrity_key, expiration_time
            ),
        }
        if accept_personal_auth:
            body["accept_personal_auth"] = accept_personal_auth
        if redirect_url is not None:
            body["redirect_url"] = _check_url(redirect_url, "redirect_url")
        if expiration_time is not None:
            body["expiration_time"] = expiration_time
        if customer_data:
            body["customer_data"] = {k.replace("-", "_"): v for k, v in customer_data.items()}
        if shipping_address:
            body["shipping_address"] = {k.replace("-", "_"): v for k, v in shipping_address.items()}
        result = yield from self._call("POST", "/transactions", json=body, idempotent=False)
        return result["data"]

    def create_payment_link(
        self,
        name: str,
        description: str,
        *,
        single_use: bool = False,
        collect_shipping: bool = False,
        amount_in_cents: int | None = None,
        currency: str = "COP",
        expires_at: str | None = None,
        redirect_url: str | None = None,
        sku: str | None = None,
    ) -> Plan[dict[str, Any]]:
        """Create a payment link (private key); the answer gains ``checkout_url``."""
        body: dict[str, Any] = {
            "name": _check_text(name, "name"),
            "description": _check_text(description, "description"),
            "single_use": bool(single_use),
            "collect_shipping": bool(collect_shipping),
            "currency": _check_currency(currency),
        }
        if amount_in_cents is not None:
            body["amount_in_cents"] = _check_positive_int(amount_in_cents, "amount_in_cents")
        if expires_at is not None:
            body["expires_at"] = _check_time(expires_at, "expires_at")
        if redirect_url is not None:
            body["redirect_url"] = _check_url(redirect_url, "redirect_url")
        if sku is not None:
            body["sku"] = _check_text(sku, "sku", 36)
        result = yield from self._call(
            "POST", "/payment_links", private=True, json=body, idempotent=False
        )
        return self._with_link_url(result["data"])

    def get_payment_link(self, link_id: str) -> Plan[dict[str, Any]]:
        _check_text(link_id, "link_id")
        result = yield from self._call("GET", f"/payment_links/{quote(link_id, safe='')}")
        return self._with_link_url(result["data"])

    @staticmethod
    def _with_link_url(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "checkout_url": f"{PAYMENT_LINK_URL}{data['id']}"}
