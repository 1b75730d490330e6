"""A local WhatsApp Cloud API (Graph API) for tests and development.

Run it::

    python -m mimeiapify.testing.whatsapp --host 127.0.0.1 --port 8730 \\
        [--callback-url URL --verify-token T] [--mps 80]

It prints the default number's ``phone_number_id``, then ``listening on
http://HOST:PORT``; ``GET /_emulator/numbers`` returns every number's token and
secrets. Point clients at it with ``WHATSAPP_API_URL=http://HOST:PORT``.

Graph API (``/{version}``): ``POST /{phone_number_id}/messages`` (every message
type, read receipts and the typing indicator, with Meta's validation and error
bodies), ``POST /{phone_number_id}/media`` (multipart upload),
``GET``/``DELETE /{media_id}``, and the download URL it hands out (bearer token
required). Enforced as Meta documents: the access token (190), the 24-hour
customer-service window (free-form messages need an inbound message from that
user in the last ``--window-seconds``, else 131047), templates (132001 unknown
name or language, 132000 parameter count), text up to 4,096 characters (100),
the number's throughput (``--mps`` messages per second, else 130429) and the
per-recipient pair limit (``--pair-burst`` messages per 6 seconds, else 131056).
Meta reports some of these asynchronously too (a ``failed`` status); here
they are answered synchronously, and 131026 (``POST /_emulator/unreachable``)
arrives as a failed status, as Meta sends it.

Webhooks: a number with a ``callback_url`` gets the verification handshake
first (``GET ?hub.mode=subscribe&hub.challenge=...&hub.verify_token=...``; the
number is refused unless the challenge comes back), then signed POSTs
(``X-Hub-Signature-256: sha256=HMAC(app_secret, body)``) for inbound messages
and for each status: ``sent`` at once, ``delivered`` after
``--deliver-seconds``, ``read`` when ``--read-seconds`` is set or on request.

Control API (``/_emulator``): ``POST /numbers`` (make a number), ``PATCH
/numbers/{id}`` (``callback_url``, ``verify_token``: handshake again), ``GET
/numbers``, ``POST /numbers/{id}/templates`` (``name``, ``language``, ``body``
with ``{{1}}`` placeholders), ``POST /inbound`` (a user writes: ``phone_number_id``,
``from``, ``name``, ``text`` or ``type`` + ``content``, ``deliveries`` to
redeliver it as Meta sometimes does), ``POST /messages/{id}/status``, ``GET
/messages``, ``POST /unreachable``, ``GET /webhooks`` (deliveries), ``GET /stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from mimeiapify.testing._serve import serve_until_signalled

MESSAGE_TYPES = (
    *("text", "image", "audio", "video", "document", "sticker", "location", "contacts"),
    *("interactive", "template", "reaction"),
)
INTERACTIVE_TYPES = (
    *("button", "list", "cta_url", "product", "product_list", "flow"),
    "location_request_message",
)
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
MEDIA_LIMITS = {"audio": 16 << 20, "video": 16 << 20, "image": 5 << 20, "document": 100 << 20}
PAIR_WINDOW = 6.0
STATUS_ORDER = ("sent", "delivered", "read")
_PHONE = re.compile(r"\+?[1-9][0-9]{6,14}")
_PLACEHOLDER = re.compile(r"\{\{\s*([0-9]+|[a-z_][a-z0-9_]*)\s*\}\}")


def _trace() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()


def _wamid() -> str:
    return "wamid." + base64.urlsafe_b64encode(secrets.token_bytes(30)).decode()


class GraphFailure(Exception):
    """Answered as Meta's error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        details: str | None = None,
        error_type: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": error_type, "code": code}
        if subcode is not None:
            self.body["error_subcode"] = subcode
        if details is not None:
            self.body["error_data"] = {"messaging_product": "whatsapp", "details": details}
        self.body["fbtrace_id"] = _trace()


def _invalid(details: str) -> GraphFailure:
    return GraphFailure(400, 100, "(#100) Invalid parameter", details)


@dataclass
class Number:
    phone_number_id: str
    display_phone_number: str
    access_token: str
    app_secret: str
    verify_token: str
    waba_id: str
    mps: int
    pair_burst: int
    pair_window: float = PAIR_WINDOW
    callback_url: str | None = None
    templates: dict[tuple[str, str], int] = field(default_factory=dict)
    sends: deque[float] = field(default_factory=deque)
    pairs: dict[str, deque[float]] = field(default_factory=dict)
    last_inbound: dict[str, float] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    requests: int = 0
    throttled: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "access_token": self.access_token,
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
            "waba_id": self.waba_id,
            "callback_url": self.callback_url,
            "mps": self.mps,
            "templates": [
                {"name": n, "language": lang, "parameters": p}
                for (n, lang), p in self.templates.items()
            ],
        }


@dataclass
class Sent:
    id: str
    number: Number
    to: str
    body: dict[str, Any]
    status: str = "accepted"
    history: list[str] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phone_number_id": self.number.phone_number_id,
            "to": self.to,
            "type": self.body.get("type"),
            "body": self.body,
            "status": self.status,
            "history": self.history,
        }


@dataclass
class Media:
    id: str
    number: Number
    data: bytes
    mime_type: str

    def info(self, base_url: str) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "url": f"{base_url}/_media/{self.id}?ext={int(time.time())}",
            "mime_type": self.mime_type,
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "file_size": len(self.data),
            "id": self.id,
        }


@dataclass
class WhatsAppEmulator:
    deliver_seconds: float = 0.2
    read_seconds: float | None = None
    window_seconds: float = 24 * 3600
    mps: int = 80
    pair_burst: int = 45
    numbers: dict[str, Number] = field(default_factory=dict)
    sent: dict[str, Sent] = field(default_factory=dict)
    inbound_ids: set[str] = field(default_factory=set)
    media: dict[str, Media] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _http: aiohttp.ClientSession | None = None

    def new_number(self, **given: Any) -> Number:
        pnid = str(given.get("phone_number_id") or f"1{secrets.randbelow(10**14):014d}")
        number = Number(
            phone_number_id=pnid,
            display_phone_number=str(given.get("display_phone_number") or f"1555{pnid[-7:]}"),
            access_token=str(given.get("access_token") or f"EAAG{secrets.token_urlsafe(40)}"),
            app_secret=str(given.get("app_secret") or secrets.token_hex(16)),
            verify_token=str(given.get("verify_token") or secrets.token_urlsafe(16)),
            waba_id=str(given.get("waba_id") or f"1{secrets.randbelow(10**14):014d}"),
            mps=int(given.get("mps") or self.mps),
            pair_burst=int(given.get("pair_burst") or self.pair_burst),
            pair_window=float(given.get("pair_window") or PAIR_WINDOW),
        )
        number.templates[("hello_world", "en_US")] = 0  # every new WABA has it
        self.numbers[pnid] = number
        return number

    # -- plumbing

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=110 << 20)
        r = app.router
        r.add_post("/_emulator/numbers", self.ctl_new_number)
        r.add_get("/_emulator/numbers", self.ctl_numbers)
        r.add_patch("/_emulator/numbers/{id}", self.ctl_update_number)
        r.add_post("/_emulator/numbers/{id}/templates", self.ctl_template)
        r.add_post("/_emulator/inbound", self.ctl_inbound)
        r.add_post("/_emulator/messages/{id}/status", self.ctl_status)
        r.add_get("/_emulator/messages", self.ctl_messages)
        r.add_post("/_emulator/unreachable", self.ctl_unreachable)
        r.add_get("/_emulator/webhooks", self.ctl_webhooks)
        r.add_get("/_emulator/stats", self.ctl_stats)
        r.add_get("/_media/{id}", self.download)
        r.add_post("/{version}/{pnid}/messages", self.send)
        r.add_post("/{version}/{pnid}/media", self.upload)
        r.add_get("/{version}/{media_id}", self.get_media)
        r.add_delete("/{version}/{media_id}", self.delete_media)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except GraphFailure as failure:
            return web.json_response({"error": failure.body}, status=failure.status)
        except web.HTTPNotFound:
            missing = GraphFailure(
                400,
                100,
                f"Unsupported request - method type: {request.method.lower()}",
                error_type="GraphMethodException",
                subcode=33,
            )
            return web.json_response({"error": missing.body}, status=400)

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise _invalid("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object")
        return body

    def _authorized(self, request: web.Request, number: Number | None = None) -> Number:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not token:
            raise GraphFailure(
                401,
                2500,
                "An active access token must be used to query information about the current user.",
            )
        candidates = [number] if number is not None else list(self.numbers.values())
        for candidate in candidates:
            if hmac.compare_digest(candidate.access_token.encode(), token.encode()):
                return candidate
        raise GraphFailure(401, 190, "Invalid OAuth access token - Cannot parse access token")

    def _number(self, request: web.Request) -> Number:
        number = self.numbers.get(request.match_info["pnid"])
        if number is None:
            self._authorized(request)
            raise GraphFailure(
                400,
                100,
                f"Unsupported post request. Object with ID "
                f"'{request.match_info['pnid']}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                error_type="GraphMethodException",
                subcode=33,
            )
        return self._authorized(request, number)

    # -- sending

    async def send(self, request: web.Request) -> web.Response:
        number = self._number(request)
        number.requests += 1
        body = await self._json(request)
        if body.get("messaging_product") != "whatsapp":
            raise _invalid("The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._read_receipt(body)
        to = body.get("to")
        if not isinstance(to, str) or not _PHONE.fullmatch(to):
            raise _invalid("The parameter to is required and must be a phone number.")
        wa_id = to.lstrip("+")
        kind = body.get("type", "text")
        if kind not in MESSAGE_TYPES:
            raise _invalid(f"Unsupported message type: {kind}")
        if not isinstance(body.get(kind), dict | list):
            raise _invalid(f"The parameter {kind} is required.")
        self._check_content(number, kind, body[kind])
        self._throttle(number, wa_id)
        if kind != "template":
            last = number.last_inbound.get(wa_id)
            if last is None or time.time() - last > self.window_seconds:
                raise GraphFailure(
                    400,
                    131047,
                    "(#131047) Re-engagement message",
                    "Message failed to send "
                    "because more than 24 hours have passed since the customer last replied "
                    "to this number.",
                )
        sent = Sent(_wamid(), number, wa_id, body)
        self.sent[sent.id] = sent
        self._spawn(self._lifecycle(sent))
        message: dict[str, Any] = {"id": sent.id}
        if kind == "template":
            message["message_status"] = "accepted"
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [message],
            }
        )

    def _read_receipt(self, body: dict[str, Any]) -> web.Response:
        if body.get("message_id") not in self.inbound_ids:
            raise _invalid("Invalid message_id: no inbound message with this id.")
        typing = body.get("typing_indicator")
        if typing is not None and typing != {"type": "text"}:
            raise _invalid("typing_indicator.type must be text")
        return web.json_response({"success": True})

    def _throttle(self, number: Number, wa_id: str) -> None:
        now = time.monotonic()
        while number.sends and number.sends[0] <= now - 1.0:
            number.sends.popleft()
        if len(number.sends) >= number.mps:
            number.throttled += 1
            raise GraphFailure(
                400,
                130429,
                "(#130429) Rate limit hit",
                "Cloud API message throughput has been reached.",
            )
        pair = number.pairs.setdefault(wa_id, deque())
        while pair and pair[0] <= now - number.pair_window:
            pair.popleft()
        if len(pair) >= number.pair_burst:
            number.throttled += 1
            raise GraphFailure(
                400,
                131056,
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "Message failed to send because there were too many messages sent from this "
                "phone number to the same phone number in a short period of time.",
            )
        number.sends.append(now)
        pair.append(now)

    def _check_content(self, number: Number, kind: str, content: Any) -> None:
        if kind == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text:
                raise _invalid("The parameter text['body'] is required.")
            if len(text) > 4096:
                raise _invalid("Param text['body'] must be at most 4096 characters long.")
        elif kind in MEDIA_TYPES:
            media_id, link = content.get("id"), content.get("link")
            if (media_id is None) == (link is None):
                raise _invalid(f"Param {kind} must have exactly one of id or link.")
            if media_id is not None and media_id not in self.media:
                raise GraphFailure(
                    400,
                    131053,
                    "(#131053) Media upload error",
                    f"Media id {media_id} is not valid.",
                )
            if "caption" in content and kind in ("audio", "sticker"):
                raise _invalid(f"Param {kind}['caption'] is not supported.")
        elif kind == "template":
            self._check_template(number, content)
        elif kind == "reaction":
            if not isinstance(content.get("message_id"), str):
                raise _invalid("The parameter reaction['message_id'] is required.")
        elif kind == "interactive":
            if content.get("type") not in INTERACTIVE_TYPES:
                raise _invalid("Param interactive['type'] is not valid.")
            if not isinstance(content.get("action"), dict):
                raise _invalid("The parameter interactive['action'] is required.")
        elif kind == "location" and not all(
            isinstance(content.get(k), int | float) for k in ("latitude", "longitude")
        ):
            raise _invalid("The parameters location['latitude'] and ['longitude'] are required.")

    def _check_template(self, number: Number, content: dict[str, Any]) -> None:
        name = content.get("name")
        language = content.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if not isinstance(name, str) or not isinstance(code, str):
            raise _invalid("The parameters template['name'], ['language'] are required.")
        expected = number.templates.get((name, code))
        if expected is None:
            raise GraphFailure(
                400,
                132001,
                "(#132001) Template name does not exist in the translation",
                f"template name ({name}) does not exist in {code}",
            )
        given = 0
        for component in content.get("components") or []:
            if isinstance(component, dict) and component.get("type") == "body":
                given += len(component.get("parameters") or [])
        if given != expected:
            raise GraphFailure(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                f"body: number of localizable_params ({given}) does not "
                f"match the expected number of params ({expected})",
            )

    # -- statuses and webhooks

    async def _lifecycle(self, sent: Sent) -> None:
        await asyncio.sleep(0.01)
        if sent.to in sent.number.unreachable:
            await self._advance(sent, "failed")
            return
        await self._advance(sent, "sent")
        await asyncio.sleep(self.deliver_seconds)
        await self._advance(sent, "delivered")
        if self.read_seconds is not None:
            await asyncio.sleep(self.read_seconds)
            await self._advance(sent, "read")

    async def _advance(self, sent: Sent, target: str) -> None:
        """Move forward to ``target``, posting each step Meta would (sent, delivered, read)
        in order; a message never goes back, and a failed one stays failed."""
        async with sent.lock:
            if target == "failed":
                if sent.status in ("accepted", "sent"):
                    await self._set_status(sent, "failed")
                return
            if sent.status == "failed":
                return
            for step in STATUS_ORDER[: STATUS_ORDER.index(target) + 1]:
                if step not in sent.history:
                    await self._set_status(sent, step)

    async def _set_status(self, sent: Sent, status: str) -> None:
        sent.status = status
        sent.history.append(status)
        item: dict[str, Any] = {
            "id": sent.id,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": sent.to,
        }
        if status == "failed":
            item["errors"] = [
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }
            ]
        elif status in ("sent", "delivered"):
            item["conversation"] = {
                "id": hashlib.md5(sent.to.encode()).hexdigest(),  # noqa: S324
                "origin": {"type": "service"},
            }
            item["pricing"] = {
                "billable": True,
                "pricing_model": "PMP",
                "category": "utility" if sent.body.get("type") == "template" else "service",
            }
        await self._post(sent.number, {"statuses": [item]})

    def _envelope(self, number: Number, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": number.waba_id,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": number.display_phone_number,
                                    "phone_number_id": number.phone_number_id,
                                },
                                **value,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }

    async def _post(self, number: Number, value: dict[str, Any], times: int = 1) -> list[Any]:
        if not number.callback_url:
            return []
        raw = json.dumps(self._envelope(number, value), separators=(",", ":")).encode()
        signature = (
            "sha256=" + hmac.new(number.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        )
        if self._http is None:
            self._http = aiohttp.ClientSession()
        outcomes: list[Any] = []
        for _ in range(times):
            record: dict[str, Any] = {"url": number.callback_url, "payload": json.loads(raw)}
            for attempt in range(3):
                try:
                    async with self._http.post(
                        number.callback_url,
                        data=raw,
                        timeout=aiohttp.ClientTimeout(total=10),
                        headers={
                            "Content-Type": "application/json",
                            "X-Hub-Signature-256": signature,
                        },
                    ) as response:
                        record["status"] = response.status
                    if response.status < 500:
                        break
                except (aiohttp.ClientError, TimeoutError) as exc:
                    record["error"] = repr(exc)
                await asyncio.sleep(0.2 * (attempt + 1))
            self.deliveries.append(record)
            outcomes.append(record.get("status", record.get("error")))
        return outcomes

    async def _handshake(self, number: Number, url: str) -> None:
        challenge = str(secrets.randbelow(10**9))
        params = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": number.verify_token,
        }
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            async with self._http.get(
                url, params=params, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                answer = (await response.text()).strip()
                ok = response.status == 200 and answer == challenge
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _invalid(f"Callback verification failed: {exc!r}") from None
        if not ok:
            raise _invalid(
                "Callback verification failed with the following errors: "
                f"HTTP Status Code = {response.status}; the response did not echo hub.challenge"
            )
        number.callback_url = url

    # -- media

    async def upload(self, request: web.Request) -> web.Response:
        number = self._number(request)
        if not request.content_type.startswith("multipart/"):
            raise _invalid("Media upload must be multipart/form-data.")
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp":
            raise _invalid("The parameter messaging_product is required.")
        if not isinstance(upload, web.FileField):
            raise _invalid("The parameter file is required.")
        mime = str(form.get("type") or upload.content_type)
        data = upload.file.read()
        limit = MEDIA_LIMITS.get(mime.split("/")[0], MEDIA_LIMITS["document"])
        if mime == "image/webp":
            limit = 500 << 10
        if len(data) > limit:
            raise GraphFailure(
                400,
                131053,
                "(#131053) Media upload error",
                f"File size {len(data)} exceeds the limit of {limit} bytes.",
            )
        media = Media(str(secrets.randbelow(10**15) + 10**15), number, data, mime)
        self.media[media.id] = media
        return web.json_response({"id": media.id})

    def _media(self, request: web.Request, key: str) -> Media:
        media = self.media.get(request.match_info[key])
        if media is None:
            self._authorized(request)
            raise GraphFailure(
                400,
                100,
                "Unsupported get request. Object with ID "
                f"'{request.match_info[key]}' does not exist.",
                error_type="GraphMethodException",
                subcode=33,
            )
        self._authorized(request, media.number)
        return media

    async def get_media(self, request: web.Request) -> web.Response:
        media = self._media(request, "media_id")
        base = f"{request.scheme}://{request.host}"
        return web.json_response(media.info(base))

    async def delete_media(self, request: web.Request) -> web.Response:
        media = self._media(request, "media_id")
        del self.media[media.id]
        return web.json_response({"success": True})

    async def download(self, request: web.Request) -> web.StreamResponse:
        media = self._media(request, "id")
        response = web.StreamResponse(
            headers={"Content-Type": media.mime_type, "Content-Length": str(len(media.data))}
        )
        await response.prepare(request)
        for start in range(0, len(media.data), 64 * 1024):
            await response.write(media.data[start : start + 64 * 1024])
        await response.write_eof()
        return response

    # -- control

    async def ctl_new_number(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        number = self.new_number(**body)
        if body.get("callback_url"):
            try:
                await self._handshake(number, str(body["callback_url"]))
            except GraphFailure:
                del self.numbers[number.phone_number_id]
                raise
        return web.json_response(number.public(), status=201)

    async def ctl_numbers(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [n.public() for n in self.numbers.values()]})

    def _ctl_number(self, request: web.Request) -> Number:
        number = self.numbers.get(request.match_info["id"])
        if number is None:
            raise _invalid("no such phone number id")
        return number

    async def ctl_update_number(self, request: web.Request) -> web.Response:
        number = self._ctl_number(request)
        body = await self._json(request)
        if body.get("verify_token"):
            number.verify_token = str(body["verify_token"])
        if body.get("app_secret"):
            number.app_secret = str(body["app_secret"])
        if "callback_url" in body:
            if body["callback_url"]:
                await self._handshake(number, str(body["callback_url"]))
            else:
                number.callback_url = None
        return web.json_response(number.public())

    async def ctl_template(self, request: web.Request) -> web.Response:
        number = self._ctl_number(request)
        body = await self._json(request)
        name, language = body.get("name"), body.get("language", "en_US")
        if not isinstance(name, str) or not name:
            raise _invalid("name is required")
        count = len(set(_PLACEHOLDER.findall(str(body.get("body", "")))))
        number.templates[(name, str(language))] = count
        return web.json_response(number.public(), status=201)

    async def ctl_inbound(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        number = self.numbers.get(str(body.get("phone_number_id") or ""))
        if number is None:
            if len(self.numbers) != 1:
                raise _invalid("phone_number_id is required")
            number = next(iter(self.numbers.values()))
        sender = str(body.get("from", ""))
        if not _PHONE.fullmatch(sender):
            raise _invalid("from must be a phone number")
        sender = sender.lstrip("+")
        timestamp = int(body.get("timestamp") or time.time())
        kind = str(body.get("type") or "text")
        content = body.get("content") or {"body": str(body.get("text", ""))}
        message: dict[str, Any] = {
            "from": sender,
            "id": _wamid(),
            "timestamp": str(timestamp),
            "type": kind,
            kind: content,
        }
        if body.get("context"):
            message["context"] = {"from": number.display_phone_number, "id": body["context"]}
        number.last_inbound[sender] = max(number.last_inbound.get(sender, 0), timestamp)
        self.inbound_ids.add(message["id"])
        value = {
            "contacts": [
                {"profile": {"name": str(body.get("name") or "Test User")}, "wa_id": sender}
            ],
            "messages": [message],
        }
        outcomes = await self._post(number, value, times=int(body.get("deliveries") or 1))
        return web.json_response({"message_id": message["id"], "deliveries": outcomes})

    async def ctl_status(self, request: web.Request) -> web.Response:
        sent = self.sent.get(request.match_info["id"])
        if sent is None:
            raise _invalid("no such message")
        status = (await self._json(request)).get("status")
        if status not in (*STATUS_ORDER, "failed"):
            raise _invalid("status must be sent, delivered, read or failed")
        await self._advance(sent, str(status))
        return web.json_response(sent.public())

    async def ctl_messages(self, request: web.Request) -> web.Response:
        pnid = request.query.get("phone_number_id")
        found = [
            s.public()
            for s in self.sent.values()
            if pnid is None or s.number.phone_number_id == pnid
        ]
        return web.json_response({"data": found})

    async def ctl_unreachable(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        for number in self.numbers.values():
            if body.get("phone_number_id") in (None, number.phone_number_id):
                number.unreachable.add(str(body.get("wa_id", "")).lstrip("+"))
        return web.json_response({"ok": True})

    async def ctl_webhooks(self, request: web.Request) -> web.Response:
        return web.json_response({"data": self.deliveries})

    async def ctl_stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                n.phone_number_id: {"requests": n.requests, "throttled": n.throttled}
                for n in self.numbers.values()
            }
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local WhatsApp Cloud API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8730)
    parser.add_argument("--mps", type=int, default=80, help="messages per second per number")
    parser.add_argument("--pair-burst", type=int, default=45, help="messages per 6 s per user")
    parser.add_argument("--deliver-seconds", type=float, default=0.2)
    parser.add_argument("--read-seconds", type=float, default=None)
    parser.add_argument("--window-seconds", type=float, default=24 * 3600)
    for name in ("phone-number-id", "access-token", "app-secret", "verify-token"):
        parser.add_argument(f"--{name}", default=None)
    args = parser.parse_args(argv)
    for name in ("mps", "pair_burst"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.deliver_seconds < 0 or args.window_seconds <= 0:
        parser.error("--deliver-seconds must be >= 0 and --window-seconds > 0")
    emulator = WhatsAppEmulator(
        deliver_seconds=args.deliver_seconds,
        read_seconds=args.read_seconds,
        window_seconds=args.window_seconds,
        mps=args.mps,
        pair_burst=args.pair_burst,
    )
    number = emulator.new_number(
        phone_number_id=args.phone_number_id,
        access_token=args.access_token,
        app_secret=args.app_secret,
        verify_token=args.verify_token,
    )
    # secrets stay off the console: GET /_emulator/numbers hands them to a developer
    print(f"default phone_number_id={number.phone_number_id}", flush=True)
    asyncio.run(serve_until_signalled(emulator.app(), args.host, args.port))


if __name__ == "__main__":
    main()
