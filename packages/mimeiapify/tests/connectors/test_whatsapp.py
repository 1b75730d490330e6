"""WhatsApp Cloud API: request bodies, bad input, the emulator, retries, media, webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from fastapi import Depends, FastAPI, Query, Response

from mimeiapify.errors import (
    WhatsAppAuthError,
    WhatsAppOutcomeUnknownError,
    WhatsAppReengagementError,
    WhatsAppTemplateError,
    WhatsAppValidationError,
)
from mimeiapify.whatsapp import (
    WebhookBatch,
    WhatsApp,
    WhatsAppRetryPolicy,
    WhatsAppWebhook,
    body_parameters,
)
from mimeiapify.whatsapp import messages as m
from mimeiapify.whatsapp.webhook import parse_webhook, signature_for, verify_signature
from mimeiapify.whatsapp_async import WhatsAppAsync

USER = "573001234567"
FAST = WhatsAppRetryPolicy(throughput_penalty=0.2, pair_penalty=0.3, base_delay=0.05)


@dataclass
class WhatsAppServer:
    url: str

    def control(self, method: str, path: str, **body: Any) -> Any:
        response = requests.request(method, f"{self.url}/_emulator{path}", json=body, timeout=15)
        assert response.status_code < 300, response.text
        return response.json()

    def new_number(self, **options: Any) -> dict[str, Any]:
        return self.control("POST", "/numbers", **options)  # type: ignore[no-any-return]

    def inbound(self, number: dict[str, Any], text: str = "hola", **extra: Any) -> Any:
        return self.control(
            "POST",
            "/inbound",
            phone_number_id=number["phone_number_id"],
            **{"from": USER, "text": text, "name": "Ana", **extra},
        )

    def messages(self, number: dict[str, Any]) -> list[dict[str, Any]]:
        found = requests.get(
            f"{self.url}/_emulator/messages",
            params={"phone_number_id": number["phone_number_id"]},
            timeout=10,
        )
        return found.json()["data"]  # type: ignore[no-any-return]

    def stats(self, number: dict[str, Any]) -> dict[str, int]:
        found = requests.get(f"{self.url}/_emulator/stats", timeout=10).json()
        return found[number["phone_number_id"]]  # type: ignore[no-any-return]

    def client(self, number: dict[str, Any], **options: Any) -> WhatsApp:
        return WhatsApp(
            number["phone_number_id"],
            number["access_token"],
            api_url=self.url,
            retry=options.pop("retry", FAST),
            **options,
        )

    def aclient(self, number: dict[str, Any], **options: Any) -> WhatsAppAsync:
        return WhatsAppAsync(
            number["phone_number_id"],
            number["access_token"],
            api_url=self.url,
            retry=options.pop("retry", FAST),
            **options,
        )


@pytest.fixture
def wa(whatsapp_server: Any) -> WhatsAppServer:
    return WhatsAppServer(whatsapp_server.url)


# ---------------------------------------------------------------- bodies and bad input


def test_request_bodies_are_metas() -> None:
    assert m.text_message("+573001234567", "hi", reply_to="wamid.X") == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": USER,
        "type": "text",
        "text": {"preview_url": False, "body": "hi"},
        "context": {"message_id": "wamid.X"},
    }
    template = m.template_message(USER, "order_update", "es", body_parameters("Ana", "42"))
    assert template["template"] == {
        "name": "order_update",
        "language": {"code": "es"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}],
            }
        ],
    }
    doc = m.media_message(USER, "document", media_id="123", caption="c", filename="a.pdf")
    assert doc["type"] == "document"
    assert doc["document"] == {"id": "123", "caption": "c", "filename": "a.pdf"}
    cta = m.interactive_message(USER, "cta_url", "See", display_text="Open", url="https://x.co")
    assert cta["interactive"]["action"] == {
        "name": "cta_url",
        "parameters": {"display_text": "Open", "url": "https://x.co"},
    }
    buttons = m.interactive_message(USER, "button", "Pick", buttons=[{"id": "y", "title": "Yes"}])
    assert buttons["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "y", "title": "Yes"}}
    ]
    assert m.reaction_message(USER, "wamid.X", "👍")["reaction"] == {
        "message_id": "wamid.X",
        "emoji": "👍",
    }
    assert m.read_receipt("wamid.X", typing=True) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.X",
        "typing_indicator": {"type": "text"},
    }


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.send_text("+57 300 123 4567", "hi"), "to"),
        (lambda c: c.send_text("57300abc", "hi"), "to"),
        (lambda c: c.send_text(USER, "   "), "body"),
        (lambda c: c.send_text(USER, "x" * 4097), "body"),
        (lambda c: c.send_media(USER, "gif", link="https://x.co/a.gif"), "kind"),
        (lambda c: c.send_media(USER, "image"), "media_id"),
        (lambda c: c.send_media(USER, "audio", media_id="1", caption="no"), "caption"),
        (
            lambda c: c.send_template(
                USER, "order", "es", [{"type": "body", "parameters": [{"type": "text"}]}]
            ),
            "components[0].parameters[0].text",
        ),
        (lambda c: c.send_template(USER, "Bad Name", "es"), "name"),
        (lambda c: c.send_interactive(USER, "button", "b", buttons=[]), "buttons"),
        (
            lambda c: c.send_interactive(
                USER, "button", "b", buttons=[{"id": "1", "title": "x" * 21}]
            ),
            "buttons[0].title",
        ),
        (lambda c: c.send_location(USER, 91, 0), "latitude"),
    ],
)
def test_bad_input_names_the_field_before_sending(
    wa: WhatsAppServer, call: Any, field: str
) -> None:
    number = wa.new_number()
    with wa.client(number) as client, pytest.raises(WhatsAppValidationError) as caught:
        call(client)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert wa.stats(number)["requests"] == 0


# ---------------------------------------------------------------- sending against the emulator


async def test_async_client_sends_every_type_in_the_three_session_modes(
    wa: WhatsAppServer,
) -> None:
    number = wa.new_number()
    inbound_id = wa.inbound(number)["message_id"]
    # 1: a session per call
    sent = await wa.aclient(number).send_text(USER, "hola Ana", reply_to=inbound_id)
    assert sent.wa_id == USER and sent.id.startswith("wamid.")
    # 2: async with
    async with wa.aclient(number) as client:
        media_id = await client.upload_media(b"\x89PNG fake", "image/png", filename="a.png")
        await client.send_media(USER, "image", media_id=media_id, caption="foto")
        await client.send_interactive(
            USER,
            "list",
            "Elige",
            button="Ver",
            sections=[{"title": "A", "rows": [{"id": "1", "title": "Uno", "description": "d"}]}],
        )
        await client.send_interactive(
            USER, "cta_url", "Mira", display_text="Abrir", url="https://example.com"
        )
        await client.send_location(USER, 4.6, -74.08, name="Bogotá")
        await client.send_contacts(
            USER, [{"name": {"formatted_name": "Ana P"}, "phones": [{"phone": "+573001112233"}]}]
        )
        await client.send_reaction(USER, inbound_id, "👍")
        assert await client.mark_as_read(inbound_id) is True
        assert await client.send_typing_indicator(inbound_id) is True
    # 3: the caller's session, left open
    async with aiohttp.ClientSession() as session:
        mine = wa.aclient(number, session=session)
        template = await mine.send_template(USER, "hello_world", "en_US")
        assert template.message_status == "accepted"
        await mine.close()
        assert not session.closed
    kinds = [s["type"] for s in wa.messages(number)]
    assert kinds == [
        "text",
        "image",
        "interactive",
        "interactive",
        "location",
        "contacts",
        "reaction",
        "template",
    ]
    first = wa.messages(number)[0]["body"]
    assert first["context"] == {"message_id": inbound_id}


def test_sync_client_on_the_callers_session_and_bad_ids(wa: WhatsAppServer) -> None:
    number = wa.new_number()
    with requests.Session() as session:
        client = wa.client(number, session=session)
        assert client.send_template(USER, "hello_world", "en_US").wa_id == USER
        client.close()
        assert session.get(f"{wa.url}/_emulator/numbers", timeout=5).ok  # still open
    for wrong in ("", "12a", "١٢٣", "1" * 41):
        with pytest.raises(WhatsAppValidationError) as caught:
            WhatsApp(wrong, "EAAGtoken")
        assert caught.value.field == "phone_number_id"
    with pytest.raises(WhatsAppValidationError) as caught:
        WhatsApp("123", " ")
    assert caught.value.field == "access_token"
    assert "EAAG" not in repr(WhatsApp("123", "EAAGsecret"))


def test_sync_client_uploads_and_streams_a_download_to_file(
    wa: WhatsAppServer, tmp_path: Path
) -> None:
    number = wa.new_number()
    data = bytes(range(256)) * 4096  # 1 MiB
    source = tmp_path / "report.pdf"
    source.write_bytes(data)
    with wa.client(number) as client:
        media_id = client.upload_media(source, "application/pdf")
        info = client.get_media(media_id)
        assert (info.mime_type, info.file_size) == ("application/pdf", len(data))
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        target = tmp_path / "copy.pdf"
        assert client.download_media(media_id, target) == info
        assert target.read_bytes() == data
        assert client.download_media(media_id) == data
        with pytest.raises(WhatsAppValidationError):
            client.download_media(media_id, tmp_path / "small", max_bytes=1000)
        assert client.delete_media(media_id) is True


# ---------------------------------------------------------------- errors and retries


def test_business_errors_are_typed_not_retried_and_say_what_to_do(wa: WhatsAppServer) -> None:
    number = wa.new_number()
    with wa.client(number) as client:
        with pytest.raises(WhatsAppReengagementError) as window:
            client.send_text(USER, "hola")  # the user never wrote: no 24-hour window
        assert window.value.code == 131047 and window.value.status == 400
        assert "24 hours" in (window.value.details or "") and window.value.fbtrace_id
        assert "template" in str(window.value)
        with pytest.raises(WhatsAppTemplateError) as template:
            client.send_template(USER, "no_such_template", "es")
        assert template.value.code == 132001
        assert template.value.details == "template name (no_such_template) does not exist in es"
    assert wa.stats(number)["requests"] == 2  # each sent once


def test_a_wrong_token_is_an_auth_error(wa: WhatsAppServer) -> None:
    number = wa.new_number()
    client = WhatsApp(number["phone_number_id"], "EAAGwrong", api_url=wa.url)
    with client, pytest.raises(WhatsAppAuthError) as caught:
        client.send_template(USER, "hello_world", "en_US")
    assert caught.value.code == 190 and caught.value.error_type == "OAuthException"


async def test_throughput_limit_is_retried_and_pacing_avoids_it(wa: WhatsAppServer) -> None:
    number = wa.new_number(mps=5)
    unpaced = wa.aclient(number, throughput=None)
    async with unpaced:
        sent = await asyncio.gather(
            *(
                unpaced.send_template(f"5730000000{i:02d}", "hello_world", "en_US")
                for i in range(12)
            )
        )
    assert len({s.id for s in sent}) == 12
    assert wa.stats(number)["throttled"] > 0  # 130429 answers came back, and were retried
    assert len(wa.messages(number)) == 12  # and never sent twice
    fresh = wa.new_number(mps=5)  # the window of the unpaced burst is not this schedule's
    paced = wa.aclient(fresh, throughput=5)
    async with paced:
        await asyncio.gather(
            *(paced.send_template(f"5731000000{i:02d}", "hello_world", "en_US") for i in range(12))
        )
    assert wa.stats(fresh)["throttled"] == 0  # the schedule never drew a 130429
    assert len(wa.messages(fresh)) == 12


def test_pair_limit_is_retried_for_that_recipient(wa: WhatsAppServer) -> None:
    number = wa.new_number(pair_burst=2, pair_window=0.5)
    with wa.client(number) as client:
        started = time.monotonic()
        for _ in range(3):
            client.send_template(USER, "hello_world", "en_US")
    assert wa.stats(number)["throttled"] >= 1
    assert time.monotonic() - started >= 0.3
    assert len(wa.messages(number)) == 3


def test_a_5xx_after_a_send_is_not_repeated(served: Any) -> None:
    hits: list[int] = []
    app = FastAPI()

    @app.post("/v23.0/{pnid}/messages")
    def broken(pnid: str) -> Response:
        hits.append(1)
        return Response(status_code=502)

    url = served(app)
    client = WhatsApp("123456", "EAAGtoken", api_url=url, retry=FAST)
    with client, pytest.raises(WhatsAppOutcomeUnknownError) as caught:
        client.send_text(USER, "hola")
    assert hits == [1]
    assert caught.value.payload["text"]["body"] == "hola"


# ---------------------------------------------------------------- webhooks


def _receiver(secret: str, verify_token: str) -> tuple[FastAPI, list[WebhookBatch]]:
    app = FastAPI()
    got: list[WebhookBatch] = []
    checked = WhatsAppWebhook(secret)

    @app.get("/hook")
    def handshake(
        mode: str = Query(alias="hub.mode"),
        token: str = Query(alias="hub.verify_token"),
        challenge: str = Query(alias="hub.challenge"),
    ) -> Response:
        answer = WhatsAppAsync.verify_subscription(mode, token, challenge, verify_token)
        return Response(answer or "", status_code=200 if answer else 403)

    @app.post("/hook")
    def receive(batch: WebhookBatch = Depends(checked)) -> dict[str, bool]:  # noqa: B008
        got.append(batch)
        return {"ok": True}

    return app, got


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_webhooks_handshake_signature_and_typed_parsing(wa: WhatsAppServer, served: Any) -> None:
    secret, token = "app-secret-1", "verify-1"
    app, got = _receiver(secret, token)
    url = served(app) + "/hook"
    refused = requests.post(
        f"{wa.url}/_emulator/numbers",
        timeout=10,
        json={"callback_url": url, "verify_token": "wrong", "app_secret": secret},
    )
    assert refused.status_code == 400 and "verification failed" in refused.text
    number = wa.new_number(callback_url=url, verify_token=token, app_secret=secret)

    inbound = wa.inbound(number, "hola", deliveries=2)
    assert inbound["deliveries"] == [200, 200]
    _wait_for(lambda: len(got) == 2)
    message = got[0].messages[0]
    assert (message.id, message.wa_id, message.type, message.text) == (
        inbound["message_id"],
        USER,
        "text",
        "hola",
    )
    assert message.profile_name == "Ana" and message.phone_number_id == number["phone_number_id"]

    with wa.client(number) as client:
        sent = client.send_text(USER, "¿En qué te ayudo?", reply_to=message.id)
    wa.control("POST", f"/messages/{sent.id}/status", status="read")
    _wait_for(
        lambda: (
            [s.status for b in got for s in b.statuses] == ["sent", "delivered", "read"]
            or len([s for b in got for s in b.statuses]) >= 3
        )
    )
    statuses = [s for b in got for s in b.statuses]
    assert [s.status for s in statuses] == ["sent", "delivered", "read"]
    assert {s.id for s in statuses} == {sent.id} and statuses[0].recipient_id == USER

    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    forged = requests.post(
        url, data=body, timeout=10, headers={"X-Hub-Signature-256": signature_for(body, "other")}
    )
    assert forged.status_code == 403
    huge = b"{" + b" " * (1024 * 1024 + 1) + b"}"
    assert (
        requests.post(
            url, data=huge, timeout=10, headers={"X-Hub-Signature-256": signature_for(huge, secret)}
        ).status_code
        == 413
    )


def test_failed_status_carries_its_error(wa: WhatsAppServer, served: Any) -> None:
    app, got = _receiver("s3", "v3")
    number = wa.new_number(callback_url=served(app) + "/hook", verify_token="v3", app_secret="s3")
    wa.control("POST", "/unreachable", wa_id="573009999999")
    with wa.client(number) as client:
        client.send_template("573009999999", "hello_world", "en_US")
    _wait_for(lambda: any(s.status == "failed" for b in got for s in b.statuses))
    failed = next(s for b in got for s in b.statuses if s.status == "failed")
    assert failed.error is not None and failed.error.code == 131026


def test_signature_check() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    good = signature_for(body, "secret")
    assert good.startswith("sha256=") and len(good) == 71
    assert WhatsApp.verify_signature(body, good, "secret")
    assert not verify_signature(body + b" ", good, "secret")
    assert not verify_signature(body, good, "")
    assert not verify_signature(body, None, "secret")
    assert WhatsApp.verify_subscription("subscribe", "t", "42", "t") == "42"
    assert WhatsApp.verify_subscription("subscribe", "x", "42", "t") is None
    assert WhatsApp.verify_subscription("unsubscribe", "t", "42", "t") is None


def _message(kind: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {
        "from": USER,
        "id": f"wamid.{kind}",
        "timestamp": "1749416383",
        "type": kind,
        kind: content,
        **extra,
    }


def test_parse_every_inbound_type() -> None:
    media = {"mime_type": "image/jpeg", "sha256": "abc", "id": "777", "caption": "look"}
    inbound = [
        _message("text", {"body": "hi"}, context={"from": "15550001111", "id": "wamid.prev"}),
        _message("image", media),
        _message("audio", {"mime_type": "audio/ogg", "sha256": "a", "id": "1", "voice": True}),
        _message("video", {"mime_type": "video/mp4", "sha256": "a", "id": "2"}),
        _message("document", {"mime_type": "application/pdf", "id": "3", "filename": "a.pdf"}),
        _message("sticker", {"mime_type": "image/webp", "id": "4", "animated": False}),
        _message("location", {"latitude": 4.6, "longitude": -74.0, "name": "Casa"}),
        _message("contacts", [{"name": {"formatted_name": "Ana"}}]),
        _message(
            "interactive", {"type": "button_reply", "button_reply": {"id": "y", "title": "Sí"}}
        ),
        _message("interactive", {"type": "list_reply", "list_reply": {"id": "1", "title": "Uno"}}),
        _message("button", {"payload": "STOP", "text": "Parar"}),
        _message("reaction", {"message_id": "wamid.mine", "emoji": "❤️"}),
        _message("order", {"catalog_id": "9", "product_items": [{"product_retailer_id": "p"}]}),
        _message("system", {"body": "Ana changed number", "type": "user_changed_number"}),
        _message(
            "unsupported",
            None,
            errors=[
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "error_data": {"details": "not supported"},
                }
            ],
        ),
    ]
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001111",
                                "phone_number_id": "106540",
                            },
                            "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}],
                            "messages": inbound,
                            "statuses": [
                                {
                                    "id": "wamid.out",
                                    "status": "failed",
                                    "timestamp": "1749416390",
                                    "recipient_id": USER,
                                    "errors": [
                                        {
                                            "code": 131047,
                                            "title": "Re-engagement message",
                                            "error_data": {"details": "24 hours"},
                                        }
                                    ],
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    batch = parse_webhook(json.dumps(payload).encode())
    by_id = {msg.id: msg for msg in batch.messages}
    assert len(batch.messages) == len(inbound)
    assert by_id["wamid.text"].context_id == "wamid.prev" and by_id["wamid.text"].text == "hi"
    assert by_id["wamid.image"].media_id == "777" and by_id["wamid.image"].text == "look"
    assert by_id["wamid.button"].text == "Parar"
    assert by_id["wamid.reaction"].reaction == ("wamid.mine", "❤️")
    assert by_id["wamid.unsupported"].errors[0].code == 131051
    replies = [msg.reply for msg in batch.messages if msg.type == "interactive"]
    assert replies == [{"id": "y", "title": "Sí"}, {"id": "1", "title": "Uno"}]
    assert all(msg.profile_name == "Ana" and msg.timestamp == 1749416383 for msg in batch.messages)
    assert batch.statuses[0].error is not None and batch.statuses[0].error.code == 131047
    assert batch.statuses[0].phone_number_id == "106540"


def test_threads_share_one_schedule_per_number(wa: WhatsAppServer) -> None:
    number = wa.new_number(mps=4)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            with wa.client(number, throughput=4) as client:
                for i in range(3):
                    client.send_template(f"57320000{offset}{i:02d}", "hello_world", "en_US")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and wa.stats(number)["throttled"] == 0
    assert len(wa.messages(number)) == 9


@pytest.mark.parametrize(
    ("status", "code", "cls", "hinted"),
    [
        (400, 131026, "WhatsAppRecipientError", True),
        (400, 131047, "WhatsAppReengagementError", True),
        (400, 132001, "WhatsAppTemplateError", True),
        (400, 130429, "WhatsAppRateLimitError", False),
        (400, 131056, "WhatsAppRateLimitError", False),
        (401, 190, "WhatsAppAuthError", True),
        (400, 100, "WhatsAppValidationError", False),
        (500, 1, "WhatsAppServerError", False),
    ],
)
def test_graph_error_bodies_become_typed_errors(
    status: int, code: int, cls: str, hinted: bool
) -> None:
    from mimeiapify import errors
    from mimeiapify._plan import HttpResponse
    from mimeiapify.whatsapp.protocol import error_from_response

    body = {
        "error": {
            "message": f"(#{code}) Something",
            "type": "OAuthException",
            "code": code,
            "error_subcode": 2494010,
            "error_data": {"messaging_product": "whatsapp", "details": "why"},
            "fbtrace_id": "AbCdEf",
        }
    }
    found = error_from_response(HttpResponse(status, {}, json.dumps(body).encode()))
    assert type(found) is getattr(errors, cls)
    assert (found.code, found.error_subcode, found.details, found.fbtrace_id) == (
        code,
        2494010,
        "why",
        "AbCdEf",
    )
    assert found.status == status and found.error_type == "OAuthException"
    assert (found.hint is not None) == hinted
