"""A local SMS sink that speaks Twilio's Messages API.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` takes the same form
fields, Basic auth and error bodies as Twilio (codes 20003 authenticate,
21602 body required, 21603 from required, 21604 to required, 21211 invalid
to, 21617 body too long); messages are kept in memory (newest 1000) and listed
at ``/`` (HTML) and ``/api/messages`` (JSON, all of them);
``/api/messages?limit=&offset=`` (and ``q`` to search number and text) gives one
page of summaries (the body cut to 160 characters) with the total, and
``/api/messages/{sid}`` one whole message.

Run: ``python -m automation.sinks.sms --port 8026``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import collections
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from automation.notifications.sms import E164, MAX_SMS_CHARS
from automation.sinks._web import PAGE_PARAMS, page, paged, web_server

SUMMARY_KEYS = ("sid", "to", "from", "messaging_service_sid", "status", "num_segments",
                "date_created", "body", "body_length")  # fmt: skip
PREVIEW_CHARS = 160

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "sink-auth-token"  # noqa: S105 (the sink's published development token)
_API = "/2010-04-01/Accounts/{account_sid}"
# Twilio's magic test numbers: sending to them fails the way a real carrier would.
_MAGIC_TO = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message,
         "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )  # fmt: skip


class SmsSink:
    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        keep: int = 1000,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.messages: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.app = Starlette(
            routes=[
                Route(_API + "/Messages.json", self.create, methods=["POST"]),
                Route(_API + "/Messages.json", self.list_account, methods=["GET"]),
                Route(_API + "/Messages/{sid}.json", self.fetch, methods=["GET"]),
                Route("/api/messages", self.list_json, methods=["GET"]),
                Route("/api/messages", self.clear, methods=["DELETE"]),
                Route("/api/messages/{sid}", self.one, methods=["GET"]),
                Route("/", self.index, methods=["GET"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        sid_ok = hmac.compare_digest(user.encode(), self.account_sid.encode())
        token_ok = hmac.compare_digest(password.encode(), self._auth_token.encode())
        return sid_ok and token_ok and request.path_params["account_sid"] == self.account_sid

    async def create(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        # Twilio takes application/x-www-form-urlencoded; parse it without extra packages
        form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in _MAGIC_TO:
            code, text = _MAGIC_TO[to]
            return _error(400, code, text)
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if len(body) > MAX_SMS_CHARS:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        now = format_datetime(datetime.now(UTC), usegmt=True)
        sid = "SM" + secrets.token_hex(16)
        message = {
            "sid": sid, "account_sid": self.account_sid, "to": to, "from": sender or None,
            "messaging_service_sid": service or None, "body": body, "status": "queued",
            "num_segments": str(1 if len(body) <= 160 else -(-len(body) // 153)),
            "direction": "outbound-api", "date_created": now, "date_updated": now,
            "date_sent": None, "error_code": None, "error_message": None, "price": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }  # fmt: skip
        self.messages.append(message)
        return JSONResponse(message, status_code=201)

    async def list_account(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        return JSONResponse({"messages": list(reversed(self.messages))})

    async def fetch(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        for message in self.messages:
            if message["sid"] == request.path_params["sid"]:
                return JSONResponse(message)
        return _error(404, 20404, "The requested resource was not found")

    async def list_json(self, request: Request) -> Response:
        newest_first = list(reversed(self.messages))
        params = request.query_params
        if not any(name in params for name in (*PAGE_PARAMS, "q")):
            return JSONResponse({"messages": newest_first})  # the first call shape
        query = params.get("q", "").strip().lower()[:200]
        if query:
            newest_first = [m for m in newest_first
                            if query in m["to"].lower() or query in m["body"].lower()]  # fmt: skip
        summaries = [
            {**m, "body": m["body"][:PREVIEW_CHARS], "body_length": len(m["body"])}
            for m in newest_first
        ]
        return paged(request, summaries, SUMMARY_KEYS)

    async def one(self, request: Request) -> Response:
        for message in self.messages:
            if message["sid"] == request.path_params["sid"]:
                return JSONResponse(message)
        return JSONResponse({"detail": "no such message"}, status_code=404)

    async def clear(self, request: Request) -> Response:
        self.messages.clear()
        return Response(status_code=204)

    async def index(self, request: Request) -> Response:
        rows = [
            (m["date_created"], m["from"] or m["messaging_service_sid"] or "", m["to"], m["body"])
            for m in reversed(self.messages)
        ]
        return HTMLResponse(
            page("SMS sink", ["received", "from", "to", "body"], rows, console_path="/sms")
        )


async def serve(
    host: str, port: int, account_sid: str, auth_token: str, allow_hosts: Sequence[str] = ()
) -> None:
    sink = SmsSink(account_sid, auth_token)
    server = web_server(sink.app, host, port, allow_hosts)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit(f"sms sink could not listen on {host}:{port}")
        await asyncio.sleep(0.02)
    print(f"sms sink listening on http://{host}:{port} (account {account_sid})", flush=True)
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m automation.sinks.sms")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests whose Host is NAME (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.account_sid, args.auth_token, args.allow_host))


if __name__ == "__main__":
    main()
