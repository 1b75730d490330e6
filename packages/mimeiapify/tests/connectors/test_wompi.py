"""Wompi: signatures against fixed vectors, checkout URLs, keys, the sandbox emulator, webhooks."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from fastapi import Depends, FastAPI

from mimeiapify import (
    Wompi,
    WompiAsync,
    WompiAuthError,
    WompiConfigurationError,
    WompiNotFoundError,
    WompiSignatureError,
    WompiValidationError,
)
from mimeiapify.wompi.protocol import event_checksum, integrity_signature
from mimeiapify.wompi.webhook import WompiEvent, WompiWebhook, parse_event

# Fixed vectors, computed once by hand with hashlib in a shell, not with this library:
#   sha256(b"sk8-438k4-xmxm392-sn2m2490000COPtest_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6")
SIG_NO_EXPIRY = "1c817e97e49f7d94709f45df5582362d4cf73fbc914aad9d28a4465822de3687"
#   sha256(b"sk8-438k4-xmxm392-sn2m2490000COP2023-06-09T20:28:50.000Z"
#          b"test_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6")
SIG_WITH_EXPIRY = "c888a9ae6f4cc45f755453ea57f028700dba5280b991f9274c31e581b8d2741c"
#   sha256(b"INV-00115000COP2023-12-31T23:59:59+00:00test_integrity_fixedvector")
SIG_SEED_CHECKOUT = "3e5eb4207871537ffaf126b9ef3c2826a7fddd2a53ecdcc7d406e318805b247e"
#   sha256(b"1234-1610641025-49201APPROVED44900001530291411"
#          b"prod_events_OcHnIzeBl5socpwByQ4hA52Em3USQ93Z").upper()
EVENT_CHECKSUM = "5A18EC5E8FDB7DF463E9F94774CBA8F583BA21BD04A09CEFF2EA68A4BC0AEFBE"
EVENTS_SECRET = "prod_events_OcHnIzeBl5socpwByQ4hA52Em3USQ93Z"
INTEGRITY = "test_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6"


def signed_event() -> dict[str, Any]:
    return {
        "event": "transaction.updated",
        "data": {
            "transaction": {
                "id": "1234-1610641025-49201",
                "amount_in_cents": 4490000,
                "reference": "MZQ3X2DE2SMX",
                "customer_email": "juan.perez@gmail.com",
                "currency": "COP",
                "payment_method_type": "NEQUI",
                "redirect_url": "https://mitienda.com.co/pagos/redireccion",
                "status": "APPROVED",
                "shipping_address": None,
                "payment_link_id": None,
                "payment_source_id": None,
            }
        },
        "environment": "prod",
        "signature": {
            "properties": ["transaction.id", "transaction.status", "transaction.amount_in_cents"],
            "checksum": EVENT_CHECKSUM,
        },
        "timestamp": 1530291411,
        "sent_at": "2018-07-20T16:45:05.000Z",
    }


# ---------------------------------------------------------------- signatures


def test_integrity_signature_vectors() -> None:
    assert integrity_signature("sk8-438k4-xmxm392-sn2m", 2490000, "COP", INTEGRITY) == SIG_NO_EXPIRY
    assert (
        integrity_signature(
            "sk8-438k4-xmxm392-sn2m", 2490000, "COP", INTEGRITY, "2023-06-09T20:28:50.000Z"
        )
        == SIG_WITH_EXPIRY
    )


def test_event_checksum_vectors() -> None:
    event = signed_event()
    assert WompiAsync.verify_webhook_event(event, EVENTS_SECRET) is True
    assert Wompi.verify_webhook_event(event, EVENTS_SECRET) is True
    lower = copy.deepcopy(event)
    lower["signature"]["checksum"] = EVENT_CHECKSUM.lower()
    assert WompiAsync.verify_webhook_event(lower, EVENTS_SECRET)
    # the header form: body checksum ignored, the given one checked
    assert WompiAsync.verify_webhook_event(event, EVENTS_SECRET, checksum=EVENT_CHECKSUM)
    assert not WompiAsync.verify_webhook_event(event, EVENTS_SECRET, checksum="00" * 32)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e["data"]["transaction"].update(status="DECLINED"),
        lambda e: e["data"]["transaction"].update(amount_in_cents=1),
        lambda e: e.update(timestamp=1530291412),
        lambda e: e["signature"].update(properties=["transaction.id"]),
        lambda e: e["signature"].update(properties=["transaction.nope"]),
        lambda e: e["signature"].update(properties="transaction.id"),
        lambda e: e["signature"].pop("checksum"),
        lambda e: e.pop("signature"),
        lambda e: e.pop("data"),
        lambda e: e["signature"].update(checksum=12345),
    ],
)
def test_tampered_or_malformed_events_fail(tamper: Any) -> None:
    event = signed_event()
    tamper(event)
    assert WompiAsync.verify_webhook_event(event, EVENTS_SECRET) is False


def test_old_events_can_be_refused() -> None:
    raw = json.dumps(signed_event()).encode()
    assert parse_event(raw, EVENTS_SECRET).transaction["status"] == "APPROVED"  # type: ignore[index]
    with pytest.raises(WompiSignatureError, match="older"):
        parse_event(raw, EVENTS_SECRET, max_age_seconds=300)  # signed in 2018
    with pytest.raises(WompiSignatureError, match="checksum"):
        parse_event(raw, "prod_events_other")


def _sign(event: dict[str, Any], secret: str = EVENTS_SECRET) -> dict[str, Any]:
    """Put the checksum Wompi's scheme gives on whatever ``event`` lists (by hand)."""
    values = ""
    for path in event["signature"]["properties"]:
        node: Any = event["data"]
        for part in path.split("."):
            node = node[part]
        values += str(node)
    text = f"{values}{event['timestamp']}{secret}"
    event["signature"]["checksum"] = hashlib.sha256(text.encode()).hexdigest().upper()
    return event


def test_a_captured_event_cannot_be_re_pointed_at_other_values() -> None:
    """Issue 14.3: a DECLINED event for 100 became APPROVED for 999,999,900 with the
    same checksum, by listing an unsigned ``blob`` holding the old concatenation."""
    captured = signed_event()
    captured["data"]["transaction"].update(status="DECLINED", amount_in_cents=100)
    captured = _sign(captured)
    assert Wompi.verify_webhook_event(captured, EVENTS_SECRET)
    forged = copy.deepcopy(captured)
    forged["data"]["transaction"].update(status="APPROVED", amount_in_cents=999_999_900)
    forged["data"]["blob"] = "1234-1610641025-49201DECLINED100"
    forged["signature"]["properties"] = ["blob"]
    assert event_checksum(forged, EVENTS_SECRET) == captured["signature"]["checksum"]
    assert WompiAsync.verify_webhook_event(forged, EVENTS_SECRET) is False
    assert Wompi.verify_webhook_event(forged, EVENTS_SECRET) is False
    with pytest.raises(WompiSignatureError, match="exactly the 'transaction' object"):
        parse_event(json.dumps(forged).encode(), EVENTS_SECRET)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # signed by its own lights, yet not what Wompi signs for the type
        (lambda e: e["signature"].update(properties=["transaction.id"]), "does not sign"),
        (lambda e: e["signature"]["properties"].append("transaction.id"), "twice"),
        (lambda e: e["data"].update(extra={"status": "APPROVED"}), "exactly"),
        (lambda e: e.update(event="nequi_token.updated"), "exactly"),
        (lambda e: e.update(event="nope"), "event type"),
        (lambda e: e["data"]["transaction"].update(id={"a": 1}), "single value"),
    ],
)
def test_events_must_sign_what_wompi_signs(change: Any, problem: str) -> None:
    event = signed_event()
    change(event)
    event = _sign(event)  # a correct checksum over whatever it now lists
    assert WompiAsync.verify_webhook_event(event, EVENTS_SECRET) is False
    with pytest.raises(WompiSignatureError, match=problem):
        parse_event(json.dumps(event).encode(), EVENTS_SECRET)


def test_the_unsigned_environment_must_match_the_secret() -> None:
    event = signed_event()  # "environment": "prod", signed with a prod_events_ secret
    assert Wompi.verify_webhook_event(event, EVENTS_SECRET) is True
    event["environment"] = "test"
    assert Wompi.verify_webhook_event(event, EVENTS_SECRET) is False
    sandbox = _sign({**signed_event(), "environment": "test"}, "test_events_abc")
    assert WompiAsync.verify_webhook_event(sandbox, "test_events_abc") is True


def test_verify_webhook_event_refuses_old_events_when_asked() -> None:
    event = _sign({**signed_event(), "timestamp": int(time.time()) - 400 * 86400})
    assert Wompi.verify_webhook_event(event, EVENTS_SECRET) is True  # no limit: as 1.4
    assert WompiAsync.verify_webhook_event(event, EVENTS_SECRET, max_age_seconds=3600) is False
    assert Wompi.verify_webhook_event(event, EVENTS_SECRET, max_age_seconds=3600) is False
    fresh = _sign({**signed_event(), "timestamp": int(time.time())})
    assert WompiAsync.verify_webhook_event(fresh, EVENTS_SECRET, max_age_seconds=3600) is True
    ahead = _sign({**signed_event(), "timestamp": int(time.time()) + 3600})
    assert Wompi.verify_webhook_event(ahead, EVENTS_SECRET, max_age_seconds=3600) is False


def test_bad_verify_inputs() -> None:
    assert WompiAsync.verify_webhook_event("not a dict", EVENTS_SECRET) is False
    assert WompiAsync.verify_webhook_event(signed_event(), "prod_events_wrong") is False
    # as in 1.4, an empty secret verifies nothing
    assert WompiAsync.verify_webhook_event(signed_event(), "") is False
    assert Wompi.verify_webhook_event(signed_event(), None) is False  # type: ignore[arg-type]


# ---------------------------------------------------------------- checkout URLs


def test_checkout_url_carries_every_parameter() -> None:
    wompi = Wompi("pub_test_fixedvector", integrity_key="test_integrity_fixedvector")
    out = wompi.generate_checkout_url(
        amount_in_cents=15000,
        currency="COP",
        reference="INV-001",
        redirect_url="https://yoursite.com/payment/success?order=1&x=y z",
        expiration_time="2023-12-31T23:59:59+00:00",
        tax_vat_in_cents=0,
        tax_consumption_in_cents=800,
        customer_data={"email": "a+b@example.com", "full_name": "Ana Ñandú", "legal-id": "123",
                       "legal-id-type": "CC", "phone-number": "3001234567",
                       "phone-number-prefix": "+57"},
        shipping_address={"address-line-1": "Calle 1 # 2-3", "country": "CO", "city": "Bogotá",
                          "phone-number": "3001234567", "region": "Cundinamarca", "name": "Ana"},
        collect_shipping=True,
        collect_customer_legal_id=False,
    )  # fmt: skip
    assert out["signature"] == SIG_SEED_CHECKOUT
    url = urlsplit(out["checkout_url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "checkout.wompi.co", "/p/")
    assert "+" not in url.query and " " not in url.query  # everything percent-encoded
    params = dict(parse_qsl(url.query))
    assert params == {
        "public-key": "pub_test_fixedvector",
        "currency": "COP",
        "amount-in-cents": "15000",
        "reference": "INV-001",
        "signature:integrity": SIG_SEED_CHECKOUT,
        "redirect-url": "https://yoursite.com/payment/success?order=1&x=y z",
        "expiration-time": "2023-12-31T23:59:59+00:00",
        "tax-in-cents:vat": "0",
        "tax-in-cents:consumption": "800",
        "customer-data:email": "a+b@example.com",
        "customer-data:full-name": "Ana Ñandú",
        "customer-data:legal-id": "123",
        "customer-data:legal-id-type": "CC",
        "customer-data:phone-number": "3001234567",
        "customer-data:phone-number-prefix": "+57",
        "shipping-address:address-line-1": "Calle 1 # 2-3",
        "shipping-address:country": "CO",
        "shipping-address:city": "Bogotá",
        "shipping-address:phone-number": "3001234567",
        "shipping-address:region": "Cundinamarca",
        "shipping-address:name": "Ana",
        "collect-shipping": "true",
        "collect-customer-legal-id": "false",
    }


def test_generated_references_are_unique() -> None:
    wompi = Wompi("pub_test_x", integrity_key="test_integrity_x")
    refs = {wompi.generate_checkout_url(amount_in_cents=100)["reference"] for _ in range(50)}
    assert len(refs) == 50


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount_in_cents": 0}, "amount_in_cents"),
        ({"amount_in_cents": -5}, "amount_in_cents"),
        ({"amount_in_cents": "100"}, "amount_in_cents"),
        ({"amount_in_cents": 10.5}, "amount_in_cents"),
        ({"amount_in_cents": True}, "amount_in_cents"),
        ({"amount_in_cents": 100, "currency": "cop"}, "currency"),
        ({"amount_in_cents": 100, "reference": ""}, "reference"),
        ({"amount_in_cents": 100, "reference": "x" * 300}, "reference"),
        ({"amount_in_cents": 100, "redirect_url": "javascript:alert(1)"}, "redirect_url"),
        ({"amount_in_cents": 100, "expiration_time": "tomorrow"}, "expiration_time"),
        ({"amount_in_cents": 100, "expiration_time": "2030-01-01T00:00:00"}, "expiration_time"),
        ({"amount_in_cents": 100, "tax_vat_in_cents": -1}, "tax_vat_in_cents"),
        ({"amount_in_cents": 100, "customer_data": {"ssn": "1"}}, "customer_data.ssn"),
        ({"amount_in_cents": 100, "shipping_address": {"planet": "x"}}, "shipping_address.planet"),
    ],
)
def test_checkout_bad_inputs(kwargs: dict[str, Any], field: str) -> None:
    wompi = Wompi("pub_test_x", integrity_key="test_integrity_x")
    with pytest.raises(WompiValidationError) as bad:
        wompi.generate_checkout_url(**kwargs)
    assert bad.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"public_key": "pub_prod_abc", "environment": "sandbox"}, "public_key"),
        # the environment follows the public key; the sandbox secret then does not fit
        ({"public_key": "pub_prod_abc"}, "integrity_key"),
        ({"public_key": "prv_test_abc"}, "public_key"),
        ({"public_key": ""}, "public_key"),
        ({"private_key": "prv_prod_abc"}, "private_key"),
        ({"private_key": "pub_test_abc"}, "private_key"),
        ({"integrity_key": "prod_integrity_abc"}, "integrity_key"),
        ({"integrity_key": ""}, "integrity_key"),
        ({"environment": "staging"}, "environment"),
        ({"public_key": "your_key"}, "public_key"),  # no environment and no known prefix
        ({"private_key": "test_integrity_abc"}, "private_key"),  # 1.3-style key order
        ({"integrity_key": "prv_test_abc"}, "integrity_key"),
        ({"integrity_key": None}, "integrity_key"),
    ],
)
def test_keys_must_match_the_environment(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"public_key": "pub_test_abc", "integrity_key": "test_integrity_abc"}
    with pytest.raises(WompiConfigurationError) as bad:
        WompiAsync(**{**args, **kwargs})
    assert bad.value.field == field
    prod = Wompi("pub_prod_abc", "prv_prod_abc", "prod_integrity_abc", environment="production")
    assert prod.protocol.environment == "production"


def test_default_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WOMPI_API_URL", raising=False)
    assert (
        Wompi("pub_test_a", integrity_key="test_integrity_a").protocol.api_url
        == "https://sandbox.wompi.co/v1"
    )
    prod = Wompi("pub_prod_a", integrity_key="prod_integrity_a", environment="production")
    assert prod.protocol.api_url == "https://production.wompi.co/v1"
    monkeypatch.setenv("WOMPI_API_URL", "http://127.0.0.1:9/v1/")
    assert (
        Wompi("pub_test_a", integrity_key="test_integrity_a").protocol.api_url
        == "http://127.0.0.1:9/v1"
    )
    assert "test_integrity_a" not in repr(
        Wompi("pub_test_a", integrity_key="test_integrity_a").protocol
    )


# ---------------------------------------------------------------- against the emulator


@pytest.mark.integration
def test_transactions_sync(merchant: dict[str, str]) -> None:
    with Wompi(merchant["public_key"], integrity_key=merchant["integrity_secret"]) as wompi:
        tokens = wompi.get_acceptance_tokens()
        assert tokens["acceptance_token"] and tokens["presigned_acceptance"]["permalink"]
        good = wompi.tokenize_card("4242424242424242", "123", "12", "29", "Ana Gómez")
        bad = wompi.tokenize_card("4111111111111111", "123", "12", "29", "Ana Gómez")
        approved = wompi.create_transaction(
            150000, "ana@example.com", {"type": "CARD", "token": good, "installments": 2},
            reference="sync-ok", acceptance_token=tokens["acceptance_token"],
        )  # fmt: skip
        declined = wompi.create_transaction(
            150000, "ana@example.com", {"type": "CARD", "token": bad, "installments": 1},
            reference="sync-bad",
        )  # fmt: skip
        assert approved["status"] == declined["status"] == "PENDING"
        deadline = time.monotonic() + 5
        while wompi.get_transaction(approved["id"])["data"]["status"] == "PENDING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert wompi.get_transaction(approved["id"])["data"]["status"] == "APPROVED"
        time.sleep(0.3)
        assert wompi.get_transaction(declined["id"])["data"]["status"] == "DECLINED"
        found = wompi.get_transaction_by_reference("sync-ok")
        assert [t["id"] for t in found] == [approved["id"]]
        assert wompi.get_transaction_by_reference("nothing-here") == []

        with pytest.raises(WompiNotFoundError) as missing:
            wompi.get_transaction("0-0-0")
        assert missing.value.status == 404 and missing.value.error_type == "NOT_FOUND_ERROR"
        with pytest.raises(WompiValidationError) as reused:
            wompi.create_transaction(
                100, "ana@example.com", {"type": "CARD", "token": good}, reference="sync-ok"
            )
        assert reused.value.field == "reference"
        with pytest.raises(WompiValidationError) as bad_email:
            wompi.create_transaction(100, "not-an-email", {"type": "CARD", "token": good})
        assert bad_email.value.field == "customer_email"


@pytest.mark.integration
def test_sandbox_checkout_opens_a_transaction(merchant: dict[str, str]) -> None:
    wompi = Wompi(merchant["public_key"], integrity_key=merchant["integrity_secret"])
    checkout = wompi.generate_checkout_url(
        amount_in_cents=15000, reference="co-1", expiration_time="2099-01-01T00:00:00+00:00",
        tax_vat_in_cents=2850, tax_consumption_in_cents=0,
        customer_data={"email": "a@example.com", "full-name": "John Doe"},
    )  # fmt: skip
    opened = requests.get(checkout["checkout_url"], timeout=5)
    assert opened.status_code == 200, opened.text
    data = opened.json()["data"]
    assert data["reference"] == "co-1" and data["customer_email"] == "a@example.com"
    assert data["taxes"] == [
        {"type": "VAT", "amount_in_cents": 2850},
        {"type": "CONSUMPTION", "amount_in_cents": 0},
    ]
    expired = wompi.generate_checkout_url(
        amount_in_cents=15000, expiration_time="2020-01-01T00:00:00+00:00"
    )
    assert requests.get(expired["checkout_url"], timeout=5).status_code == 422


@pytest.mark.integration
def test_merchants_cannot_see_each_other(merchant: dict[str, str], wompi_server: Any) -> None:
    other = wompi_server.new_merchant()
    with Wompi(merchant["public_key"], integrity_key=merchant["integrity_secret"]) as mine:
        mine.create_transaction(
            1000, "a@example.com", {"type": "NEQUI", "phone_number": "3991111111"},
            reference="private-ref",
        )  # fmt: skip
        assert len(mine.get_transaction_by_reference("private-ref")) == 1
    with Wompi(other["public_key"], other["private_key"], other["integrity_secret"]) as theirs:
        assert theirs.get_transaction_by_reference("private-ref") == []
    # raw requests the API refuses: no key, a public key where a private one is needed,
    # malformed JSON
    api = wompi_server.api_url
    assert (
        requests.get(f"{api}/transactions", params={"reference": "x"}, timeout=5).status_code == 401
    )
    as_public = requests.get(
        f"{api}/transactions", params={"reference": "x"},
        headers={"Authorization": f"Bearer {merchant['public_key']}"}, timeout=5,
    )  # fmt: skip
    assert as_public.status_code == 401
    broken = requests.post(
        f"{api}/transactions", data=b"{nope",
        headers={"Authorization": f"Bearer {merchant['public_key']}"}, timeout=5,
    )  # fmt: skip
    assert broken.status_code == 400


@pytest.mark.integration
async def test_wrong_integrity_key_is_refused_by_the_sandbox(merchant: dict[str, str]) -> None:
    async with WompiAsync(merchant["public_key"], integrity_key="test_integrity_wrong") as wompi:
        with pytest.raises(WompiValidationError) as bad:
            await wompi.create_transaction(
                5000, "x@example.com", {"type": "NEQUI", "phone_number": "3991111111"}
            )
    assert bad.value.status == 422 and bad.value.field == "signature"
    checkout = Wompi(
        merchant["public_key"], integrity_key="test_integrity_wrong"
    ).generate_checkout_url(amount_in_cents=5000)
    assert requests.get(checkout["checkout_url"], timeout=5).status_code == 422


@pytest.mark.integration
async def test_private_key_rules(merchant: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WOMPI_PRIVATE_KEY")
    async with WompiAsync(
        merchant["public_key"], integrity_key=merchant["integrity_secret"]
    ) as wompi:
        with pytest.raises(WompiConfigurationError) as needs_private:
            await wompi.get_transaction_by_reference("x")
    assert needs_private.value.field == "private_key"
    async with WompiAsync(
        merchant["public_key"],
        integrity_key=merchant["integrity_secret"],
        private_key="prv_test_not_a_real_key",
    ) as wompi:
        with pytest.raises(WompiAuthError) as wrong:
            await wompi.get_transaction_by_reference("x")
    assert wrong.value.status == 401 and wrong.value.error_type == "INVALID_ACCESS_TOKEN"


@pytest.mark.integration
async def test_payment_links(merchant: dict[str, str]) -> None:
    async with WompiAsync(
        merchant["public_key"], integrity_key=merchant["integrity_secret"]
    ) as wompi:
        link = await wompi.create_payment_link(
            "Plan mensual", "Suscripción", single_use=True, amount_in_cents=990000,
            redirect_url="https://example.com/thanks", sku="PLAN-1",
        )  # fmt: skip
        assert link["checkout_url"] == f"https://checkout.wompi.co/l/{link['id']}"
        again = await wompi.get_payment_link(link["id"])
        assert again["amount_in_cents"] == 990000 and again["single_use"] is True
        with pytest.raises(WompiNotFoundError):
            await wompi.get_payment_link("test_missing")
        with pytest.raises(WompiValidationError) as bad:
            await wompi.create_payment_link("", "desc")
        assert bad.value.field == "name"


@pytest.mark.integration
def test_webhook_dependency_receives_emulator_events(
    merchant: dict[str, str], wompi_server: Any, served: Any
) -> None:
    received: list[WompiEvent] = []
    app = FastAPI()

    verified = Depends(WompiWebhook(merchant["events_secret"]))

    @app.post("/events")
    async def on_event(event: WompiEvent = verified) -> dict[str, str]:
        received.append(event)
        return {"ok": "yes"}

    url = served(app)
    requests.patch(
        f"{wompi_server.url}/_emulator/merchants/{merchant['public_key']}",
        json={"events_url": f"{url}/events"},
        timeout=5,
    ).raise_for_status()

    async def pay() -> dict[str, Any]:
        async with WompiAsync(
            merchant["public_key"], integrity_key=merchant["integrity_secret"]
        ) as wompi:
            return await wompi.create_transaction(
                7000, "c@example.com", {"type": "NEQUI", "phone_number": "3992222222"}
            )

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(received) < count:
            assert time.monotonic() < deadline, "events did not arrive"
            time.sleep(0.05)

    tx = asyncio.run(pay())
    wait_for(1)  # the sandbox settles the Nequi test number 3992222222 as DECLINED
    wompi_server.set_status(tx["id"], "VOIDED")  # a second, forced status change
    wait_for(2)
    assert [e.transaction["status"] for e in received if e.transaction] == ["DECLINED", "VOIDED"]
    assert all(e.event == "transaction.updated" for e in received)

    # forged, malformed and header-mismatched events never reach the handler
    delivered = requests.get(f"{wompi_server.url}/_emulator/events", timeout=5).json()["data"]
    genuine = next(d["event"] for d in delivered if d["url"] == f"{url}/events")
    forged = copy.deepcopy(genuine)
    forged["data"]["transaction"]["status"] = "APPROVED"
    events = f"{url}/events"
    count = len(received)
    assert requests.post(events, json=forged, timeout=5).status_code == 400
    assert requests.post(events, data=b"{oops", timeout=5).status_code == 400
    assert requests.post(events, data=b"x" * (1024 * 1024 + 1), timeout=5).status_code == 413
    mismatch = requests.post(
        events, json=genuine, headers={"X-Event-Checksum": "AB" * 32}, timeout=5
    )
    assert mismatch.status_code == 400
    assert requests.post(events, json=genuine, timeout=5).status_code == 200
    assert len(received) == count + 1
