"""A local SMTP sink (aiosmtpd) with a web page listing what arrived.

It accepts every message, keeps the newest 1000 in memory and shows them at
``http://HOST:WEB_PORT/`` (HTML) and ``/api/messages`` (JSON, with the text
and HTML bodies and attachment names); ``/api/messages/{id}/raw`` returns
the message as received. The role MailHog plays in other setups.

Run: ``python -m automation.sinks.smtp --port 1025 --web-port 8025``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import email
import email.policy
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from automation.sinks._web import page, web_server


def _summary(message_id: int, envelope: Envelope, raw: bytes) -> dict[str, Any]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    return {
        "id": message_id,
        "received_at": datetime.now(UTC).isoformat(),
        "mail_from": envelope.mail_from,
        "rcpt_to": list(envelope.rcpt_tos),
        "from": str(parsed.get("From", "")),
        "to": str(parsed.get("To", "")),
        "subject": str(parsed.get("Subject", "")),
        "message_id": str(parsed.get("Message-ID", "")),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "attachments": [_attachment(part) for part in parsed.iter_attachments()],
        "size": len(raw),
    }


def _attachment(part: EmailMessage) -> dict[str, Any]:
    payload = part.get_payload(decode=True)
    size = len(payload) if isinstance(payload, bytes) else 0
    return {"filename": part.get_filename(), "content_type": part.get_content_type(), "size": size}


class SmtpSink:
    """Stores what the SMTP server receives and serves the web page."""

    def __init__(self, keep: int = 1000) -> None:
        self.messages: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._raw: dict[int, bytes] = {}
        self._ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/", self.index, methods=["GET"]),
                Route("/api/messages", self.list_json, methods=["GET"]),
                Route("/api/messages", self.clear, methods=["DELETE"]),
                Route("/api/messages/{id:int}/raw", self.raw, methods=["GET"]),
            ]
        )

    # aiosmtpd handler hook
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message_id = next(self._ids)
        if len(self.messages) == self.messages.maxlen:
            self._raw.pop(self.messages[0]["id"], None)
        self.messages.append(_summary(message_id, envelope, raw))
        self._raw[message_id] = raw
        return "250 Message accepted for delivery"

    async def index(self, request: Request) -> Response:
        rows = [
            (m["received_at"], m["from"], m["to"], m["subject"],
             ", ".join(a["filename"] or "?" for a in m["attachments"]))
            for m in reversed(self.messages)
        ]  # fmt: skip
        headings = ["received", "from", "to", "subject", "attachments"]
        return HTMLResponse(page("SMTP sink", headings, rows))

    async def list_json(self, request: Request) -> Response:
        newest_first = list(reversed(self.messages))
        return JSONResponse({"total": len(newest_first), "messages": newest_first})

    async def raw(self, request: Request) -> Response:
        raw = self._raw.get(request.path_params["id"])
        if raw is None:
            return JSONResponse({"detail": "no such message"}, status_code=404)
        return PlainTextResponse(raw.decode("utf-8", errors="replace"), media_type="message/rfc822")

    async def clear(self, request: Request) -> Response:
        self.messages.clear()
        self._raw.clear()
        return Response(status_code=204)


async def serve(host: str, port: int, web_port: int, allow_hosts: Sequence[str] = ()) -> None:
    sink = SmtpSink()
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        lambda: SMTP(sink, hostname="smtp-sink", enable_SMTPUTF8=True), host, port
    )
    web = web_server(sink.app, host, web_port, allow_hosts)
    task = asyncio.create_task(web.serve())
    while not web.started:
        if task.done():
            smtp_server.close()
            await task
            raise SystemExit(f"smtp sink web page could not listen on {host}:{web_port}")
        await asyncio.sleep(0.02)
    print(f"smtp sink listening on smtp://{host}:{port} (web page http://{host}:{web_port})",
          flush=True)  # fmt: skip
    try:
        await task  # uvicorn turns SIGTERM/SIGINT into a clean stop
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m automation.sinks.smtp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025, help="SMTP port")
    parser.add_argument("--web-port", type=int, default=8025, help="port of the web page")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer web pages asked for as NAME (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.web_port, args.allow_host))


if __name__ == "__main__":
    main()
