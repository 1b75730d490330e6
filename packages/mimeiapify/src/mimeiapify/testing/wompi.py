"""A local Wompi sandbox for tests and development.

Run it::

    python -m mimeiapify.testing.wompi --host 127.0.0.1 --port 8720 [--events-url URL]

It prints the default merchant's public key, then ``listening on http://HOST:PORT``;
``GET /_emulator/merchants`` returns every merchant's keys.
Point clients at ``http://HOST:PORT/v1`` (``WOMPI_API_URL``) and the web
checkout at ``http://HOST:PORT/p/`` (``WOMPI_CHECKOUT_URL``).

Public API (``/v1``): ``GET /merchants/{public_key}`` (acceptance tokens),
``POST /tokens/cards``, ``POST /transactions`` (public key, acceptance token
and integrity signature checked), ``GET /transactions/{id}``,
``GET /transactions?reference=`` (private key), ``POST /payment_links``
(private key), ``GET /payment_links/{id}``; the checkout ``GET /p/`` checks
the integrity signature and opens a transaction. Transactions start PENDING
and settle after ``--settle-seconds`` following the sandbox's test data
(card 4242 4242 4242 4242 approves, 4111 1111 1111 1111 declines; Nequi
3991111111 approves, 3992222222 declines); each change is POSTed as a
signed ``transaction.updated`` event (body checksum and ``X-Event-Checksum``)
to the merchant's events URL.

Control API (``/_emulator``): ``POST /merchants`` makes a merchant and returns
its keys; ``PATCH /merchants/{public_key}`` sets ``events_url``;
``POST /transactions/{id}/status`` forces a status (and sends the event);
``GET /events`` lists the deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import json
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from mimeiapify.testing._serve import serve_until_signalled

_ALNUM = string.ascii_letters + string.digits
FINAL_STATUSES = ("APPROVED", "DECLINED", "VOIDED", "ERROR")
_CARD_OUTCOMES = {"4242424242424242": "APPROVED", "4111111111111111": "DECLINED"}
_NEQUI_OUTCOMES = {"3991111111": "APPROVED", "3992222222": "DECLINED"}
_SIGNED_PROPERTIES = ["transaction.id", "transaction.status", "transaction.amount_in_cents"]


def _rand(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sign_event(event: dict[str, Any], events_secret: str) -> str:
    values = ""
    for path in event["signature"]["properties"]:
        node: Any = event["data"]
        for part in path.split("."):
            node = node[part]
        values += str(node)
    text = f"{values}{event['timestamp']}{events_secret}"
    return hashlib.sha256(text.encode()).hexdigest().upper()


class WompiFailure(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _not_found() -> WompiFailure:
    return WompiFailure(
        404, {"type": "NOT_FOUND_ERROR", "reason": "La entidad solicitada no existe"}
    )


def _unauthorized(reason: str) -> WompiFailure:
    return WompiFailure(401, {"type": "INVALID_ACCESS_TOKEN", "reason": reason})


def _invalid(**messages: str) -> WompiFailure:
    return WompiFailure(
        422,
        {"type": "INPUT_VALIDATION_ERROR", "messages": {k: [v] for k, v in messages.items()}},
    )


@dataclass
class Merchant:
    id: int
    name: str
    public_key: str
    private_key: str
    integrity_secret: str
    events_secret: str
    acceptance_token: str
    personal_auth_token: str
    events_url: str | None = None

    def keys(self) -> dict[str, Any]:
        return {
            "public_key": self.public_key,
            "private_key": self.private_key,
            "integrity_secret": self.integrity_secret,
            "events_secret": self.events_secret,
            "events_url": self.events_url,
        }


@dataclass
class Transaction:
    merchant: Merchant
    data: dict[str, Any]
    outcome: str


@dataclass
class WompiEmulator:
    settle_seconds: float = 0.5
    merchants: dict[str, Merchant] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    links: dict[str, tuple[Merchant, dict[str, Any]]] = field(default_factory=dict)
    card_tokens: dict[str, str] = field(default_factory=dict)  # token -> card number
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _http: aiohttp.ClientSession | None = None

    def new_merchant(
        self,
        name: str = "Emulated merchant",
        events_url: str | None = None,
        keys: dict[str, str] | None = None,
    ) -> Merchant:
        keys = keys or {}
        merchant = Merchant(
            id=len(self.merchants) + 1,
            name=name,
            public_key=keys.get("public_key") or f"pub_test_{_rand(32)}",
            private_key=keys.get("private_key") or f"prv_test_{_rand(32)}",
            integrity_secret=keys.get("integrity_secret") or f"test_integrity_{_rand(32)}",
            events_secret=keys.get("events_secret") or f"test_events_{_rand(32)}",
            acceptance_token=f"eyJ{_rand(60)}",
            personal_auth_token=f"eyJ{_rand(60)}",
            events_url=events_url,
        )
        self.merchants[merchant.public_key] = merchant
        return merchant

    # -- plumbing

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/_emulator/merchants", self.ctl_new_merchant)
        r.add_get("/_emulator/merchants", self.ctl_list_merchants)
        r.add_patch("/_emulator/merchants/{key}", self.ctl_update_merchant)
        r.add_post("/_emulator/transactions/{id}/status", self.ctl_set_status)
        r.add_get("/_emulator/events", self.ctl_events)
        r.add_get("/v1/merchants/{key}", self.get_merchant)
        r.add_post("/v1/tokens/cards", self.tokenize_card)
        r.add_post("/v1/transactions", self.create_transaction)
        r.add_get("/v1/transactions", self.find_transactions)
        r.add_get("/v1/transactions/{id}", self.get_transaction)
        r.add_post("/v1/payment_links", self.create_link)
        r.add_get("/v1/payment_links/{id}", self.get_link)
        r.add_get("/p/", self.checkout)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except WompiFailure as failure:
            return web.json_response({"error": failure.error}, status=failure.status)
        except web.HTTPNotFound:
            return web.json_response({"error": _not_found().error}, status=404)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise WompiFailure(
                400, {"type": "INPUT_VALIDATION_ERROR", "reason": "El cuerpo no es JSON válido"}
            ) from None
        if not isinstance(body, dict):
            raise _invalid(body="debe ser un objeto")
        return body

    def _bearer(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise _unauthorized("Se requiere una llave de autenticación")
        return auth[7:].strip()

    def _by_public(self, request: web.Request) -> Merchant:
        key = self._bearer(request)
        merchant = self.merchants.get(key)
        if merchant is None:
            raise _unauthorized("La llave pública no es válida")
        return merchant

    def _by_private(self, request: web.Request) -> Merchant:
        key = self._bearer(request)
        for merchant in self.merchants.values():
            if hmac.compare_digest(merchant.private_key, key):
                return merchant
        if key.startswith("pub_"):
            raise _unauthorized("Se esperaba una llave privada pero se recibió una llave pública")
        raise _unauthorized("La llave privada no es válida")

    # -- control

    async def ctl_new_merchant(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        merchant = self.new_merchant(body.get("name", "Emulated merchant"), body.get("events_url"))
        return web.json_response(merchant.keys(), status=201)

    async def ctl_list_merchants(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [m.keys() for m in self.merchants.values()]})

    async def ctl_update_merchant(self, request: web.Request) -> web.Response:
        merchant = self.merchants.get(request.match_info["key"])
        if merchant is None:
            raise _not_found()
        body = await self._body(request)
        merchant.events_url = body.get("events_url")
        return web.json_response(merchant.keys())

    async def ctl_set_status(self, request: web.Request) -> web.Response:
        tx = self.transactions.get(request.match_info["id"])
        if tx is None:
            raise _not_found()
        status = (await self._body(request)).get("status")
        if status not in (*FINAL_STATUSES, "PENDING"):
            raise _invalid(status=f"debe ser uno de {', '.join(FINAL_STATUSES)}")
        await self._set_status(tx, status)
        return web.json_response({"data": tx.data})

    async def ctl_events(self, request: web.Request) -> web.Response:
        return web.json_response({"data": self.deliveries})

    # -- merchants, tokens

    async def get_merchant(self, request: web.Request) -> web.Response:
        merchant = self.merchants.get(request.match_info["key"])
        if merchant is None:
            raise _not_found()
        return web.json_response(
            {
                "data": {
                    "id": merchant.id,
                    "name": merchant.name,
                    "public_key": merchant.public_key,
                    "accepted_currencies": ["COP"],
                    "accepted_payment_methods": ["CARD", "NEQUI", "PSE", "BANCOLOMBIA_TRANSFER"],
                    "presigned_acceptance": {
                        "acceptance_token": merchant.acceptance_token,
                        "permalink": "https://wompi.com/assets/downloadble/reglamento-Usuarios-Colombia.pdf",
                        "type": "END_USER_POLICY",
                    },
                    "presigned_personal_data_auth": {
                        "acceptance_token": merchant.personal_auth_token,
                        "permalink": "https://wompi.com/assets/downloadble/autorizacion-administracion-datos-personales.pdf",
                        "type": "PERSONAL_DATA_AUTH",
                    },
                }
            }
        )

    async def tokenize_card(self, request: web.Request) -> web.Response:
        self._by_public(request)
        body = await self._body(request)
        number = str(body.get("number", "")).replace(" ", "")
        if not number.isdigit() or not 13 <= len(number) <= 19:
            raise _invalid(number="Número de tarjeta inválido")
        for name in ("cvc", "exp_month", "exp_year", "card_holder"):
            if not body.get(name):
                raise _invalid(**{name: "Es requerido"})
        token = f"tok_test_{_rand(6)}_{_rand(32)}"
        self.card_tokens[token] = number
        return web.json_response(
            {
                "status": "CREATED",
                "data": {
                    "id": token,
                    "created_at": _now(),
                    "brand": "VISA" if number.startswith("4") else "MASTERCARD",
                    "name": f"{'VISA' if number.startswith('4') else 'MASTERCARD'}-{number[-4:]}",
                    "last_four": number[-4:],
                    "bin": number[:6],
                    "exp_year": body["exp_year"],
                    "exp_month": body["exp_month"],
                    "card_holder": body["card_holder"],
                },
            },
            status=201,
        )

    # -- transactions

    def _outcome(self, method: dict[str, Any]) -> str:
        kind = method.get("type")
        if kind == "CARD":
            token = method.get("token")
            if token not in self.card_tokens:
                raise _invalid(payment_method="El token de la tarjeta no es válido")
            return _CARD_OUTCOMES.get(self.card_tokens[token], "DECLINED")
        if kind == "NEQUI":
            return _NEQUI_OUTCOMES.get(str(method.get("phone_number")), "ERROR")
        if kind in ("PSE", "BANCOLOMBIA_TRANSFER", "BANCOLOMBIA_COLLECT"):
            return "APPROVED"
        raise _invalid(payment_method=f"Tipo de pago no soportado: {kind}")

    def _open(
        self,
        merchant: Merchant,
        *,
        amount: int,
        currency: str,
        reference: str,
        email: str | None,
        method_type: str,
        outcome: str,
        redirect_url: str | None,
        extra: dict[str, Any] | None = None,
    ) -> Transaction:
        tx_id = f"{merchant.id}-{int(time.time() * 1000)}-{secrets.randbelow(100000):05d}"
        data = {
            "id": tx_id,
            "created_at": _now(),
            "finalized_at": None,
            "amount_in_cents": amount,
            "reference": reference,
            "customer_email": email,
            "currency": currency,
            "payment_method_type": method_type,
            "payment_method": {"type": method_type},
            "status": "PENDING",
            "status_message": None,
            "shipping_address": None,
            "redirect_url": redirect_url,
            "payment_source_id": None,
            "payment_link_id": None,
            "customer_data": None,
            "billing_data": None,
            **(extra or {}),
        }
        tx = Transaction(merchant, data, outcome)
        self.transactions[tx_id] = tx
        task = asyncio.get_running_loop().create_task(self._settle(tx))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return tx

    async def _settle(self, tx: Transaction) -> None:
        await asyncio.sleep(self.settle_seconds)
        if tx.data["status"] == "PENDING":
            await self._set_status(tx, tx.outcome)

    async def _set_status(self, tx: Transaction, status: str) -> None:
        tx.data["status"] = status
        tx.data["finalized_at"] = None if status == "PENDING" else _now()
        await self._send_event(tx)

    async def _send_event(self, tx: Transaction) -> None:
        url = tx.merchant.events_url
        if not url:
            return
        event = {
            "event": "transaction.updated",
            "data": {"transaction": dict(tx.data)},
            # as Wompi: "prod" for a production merchant (prod_events_ secret)
            "environment": "prod" if tx.merchant.events_secret.startswith("prod_") else "test",
            "signature": {"properties": list(_SIGNED_PROPERTIES), "checksum": ""},
            "timestamp": int(time.time()),
            "sent_at": _now(),
        }
        checksum = sign_event(event, tx.merchant.events_secret)
        event["signature"]["checksum"] = checksum  # type: ignore[index]
        record: dict[str, Any] = {"url": url, "event": event}
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            async with self._http.post(
                url,
                json=event,
                headers={"X-Event-Checksum": checksum},
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                record["status"] = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            record["error"] = repr(exc)
        self.deliveries.append(record)

    async def create_transaction(self, request: web.Request) -> web.Response:
        merchant = self._by_public(request)
        body = await self._body(request)
        amount = body.get("amount_in_cents")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise _invalid(amount_in_cents="Debe ser un entero positivo")
        currency = body.get("currency")
        if currency != "COP":
            raise _invalid(currency="Moneda no soportada")
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference:
            raise _invalid(reference="Es requerido")
        if any(t.data["reference"] == reference and t.merchant is merchant
               for t in self.transactions.values()):  # fmt: skip
            raise _invalid(reference="La referencia ya ha sido usada")
        if body.get("acceptance_token") != merchant.acceptance_token:
            raise _invalid(**{"acceptance_token": "El token de aceptación no es válido"})
        if not isinstance(body.get("customer_email"), str) or "@" not in body["customer_email"]:
            raise _invalid(customer_email="Debe ser un email válido")
        expected = hashlib.sha256(
            f"{reference}{amount}{currency}{body.get('expiration_time') or ''}"
            f"{merchant.integrity_secret}".encode()
        ).hexdigest()
        if not hmac.compare_digest(expected, str(body.get("signature", ""))):
            raise _invalid(signature="La firma es inválida")
        method = body.get("payment_method")
        if not isinstance(method, dict):
            raise _invalid(payment_method="Es requerido")
        outcome = self._outcome(method)
        tx = self._open(
            merchant,
            amount=amount,
            currency=currency,
            reference=reference,
            email=body["customer_email"],
            method_type=str(method["type"]),
            outcome=outcome,
            redirect_url=body.get("redirect_url"),
        )
        return web.json_response({"data": tx.data}, status=201)

    async def get_transaction(self, request: web.Request) -> web.Response:
        tx = self.transactions.get(request.match_info["id"])
        if tx is None:
            raise _not_found()
        return web.json_response({"data": tx.data})

    async def find_transactions(self, request: web.Request) -> web.Response:
        merchant = self._by_private(request)
        reference = request.query.get("reference")
        if not reference:
            raise _invalid(reference="Es requerido")
        found = [
            t.data
            for t in self.transactions.values()
            if t.merchant is merchant and t.data["reference"] == reference
        ]
        return web.json_response({"data": found, "meta": {}})

    async def checkout(self, request: web.Request) -> web.Response:
        q = request.query
        merchant = self.merchants.get(q.get("public-key", ""))
        if merchant is None:
            raise _unauthorized("La llave pública no es válida")
        try:
            amount = int(q["amount-in-cents"])
            reference, currency = q["reference"], q["currency"]
        except (KeyError, ValueError):
            raise _invalid(checkout="Faltan parámetros obligatorios") from None
        expected = hashlib.sha256(
            f"{reference}{amount}{currency}{q.get('expiration-time', '')}"
            f"{merchant.integrity_secret}".encode()
        ).hexdigest()
        if not hmac.compare_digest(expected, q.get("signature:integrity", "")):
            raise _invalid(**{"signature:integrity": "La firma de integridad es inválida"})
        if "expiration-time" in q:
            try:
                expires = dt.datetime.fromisoformat(q["expiration-time"].replace("Z", "+00:00"))
            except ValueError:
                raise _invalid(**{"expiration-time": "Formato ISO 8601 inválido"}) from None
            if expires.tzinfo is None or expires <= dt.datetime.now(dt.UTC):
                raise _invalid(**{"expiration-time": "El link de pago ha expirado"})
        extra: dict[str, Any] = {}
        taxes = [
            {"type": key.split(":", 1)[1].upper(), "amount_in_cents": int(value)}
            for key, value in q.items()
            if key.startswith("tax-in-cents:")
        ]
        if taxes:
            extra["taxes"] = taxes
        customer = {k.split(":", 1)[1]: v for k, v in q.items() if k.startswith("customer-data:")}
        if customer:
            extra["customer_data"] = customer
        tx = self._open(
            merchant,
            amount=amount,
            currency=currency,
            reference=reference,
            email=customer.get("email"),
            method_type="CARD",
            outcome="APPROVED",
            redirect_url=q.get("redirect-url"),
            extra=extra,
        )
        return web.json_response({"data": tx.data})

    # -- payment links

    async def create_link(self, request: web.Request) -> web.Response:
        merchant = self._by_private(request)
        body = await self._body(request)
        for name in ("name", "description"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _invalid(**{name: "Es requerido"})
        for name in ("single_use", "collect_shipping"):
            if not isinstance(body.get(name), bool):
                raise _invalid(**{name: "Debe ser booleano"})
        amount = body.get("amount_in_cents")
        if amount is not None and (not isinstance(amount, int) or amount <= 0):
            raise _invalid(amount_in_cents="Debe ser un entero positivo")
        link_id = f"test_{_rand(6)}"
        data = {
            "id": link_id,
            "name": body["name"],
            "description": body["description"],
            "single_use": body["single_use"],
            "collect_shipping": body["collect_shipping"],
            "currency": body.get("currency", "COP"),
            "amount_in_cents": amount,
            "expires_at": body.get("expires_at"),
            "redirect_url": body.get("redirect_url"),
            "sku": body.get("sku"),
            "active": True,
            "created_at": _now(),
            "merchant_public_key": merchant.public_key,
        }
        self.links[link_id] = (merchant, data)
        return web.json_response({"data": data}, status=201)

    async def get_link(self, request: web.Request) -> web.Response:
        found = self.links.get(request.match_info["id"])
        if found is None:
            raise _not_found()
        return web.json_response({"data": found[1]})


async def serve(
    host: str, port: int, settle_seconds: float, events_url: str | None, keys: dict[str, str]
) -> None:
    emulator = WompiEmulator(settle_seconds=settle_seconds)
    merchant = emulator.new_merchant(events_url=events_url, keys=keys)
    # secrets stay off the console: GET /_emulator/merchants hands them to a developer
    print(f"default merchant public_key={merchant.public_key}", flush=True)
    await serve_until_signalled(emulator.app(), host, port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Wompi sandbox emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8720)
    parser.add_argument("--settle-seconds", type=float, default=0.5)
    parser.add_argument("--events-url", default=None)
    for name in ("public-key", "private-key", "integrity-secret", "events-secret"):
        parser.add_argument(f"--{name}", default=None)
    args = parser.parse_args(argv)
    keys = {
        k: v
        for k, v in {
            "public_key": args.public_key,
            "private_key": args.private_key,
            "integrity_secret": args.integrity_secret,
            "events_secret": args.events_secret,
        }.items()
        if v
    }
    asyncio.run(serve(args.host, args.port, args.settle_seconds, args.events_url, keys))


if __name__ == "__main__":
    main()
