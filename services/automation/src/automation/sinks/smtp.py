"""A local SMTP sink (aiosmtpd) with a web page listing what arrived.

It accepts every message, keeps the newest 1000 in memory and shows them at
``http://HOST:WEB_PORT/`` (HTML) and ``/api/messages`` (JSON, with the text
and HTML bodies and attachment names). ``/api/messages?limit=&offset=`` (also
``q`` to search, ``message_id`` for one Message-ID header) gives one page of
summaries without bodies and the total; ``/api/messages/{id}`` one message
with its bodies, ``/api/messages/{id}/raw`` the message as received and
``/api/messages/{id}/attachments/{n}`` the n-th attachment's bytes (as a
download). The role MailHog plays in other setups.

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

from automation.sinks._web import PAGE_PARAMS, page, paged, web_server

SUMMARY_KEYS = ("id", "received_at", "mail_from", "rcpt_to", "from", "to", "subject",
                "message_id", "attachments", "size")  # fmt: skip
SEARCHED = ("subject", "to", "from", "text")


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


def _matches(message: dict[str, Any], query: str, fields: tuple[str, ...]) -> bool:
    return any(query in str(message.get(f) or "").lower() for f in fields)


def download_headers(filename: str | None, n: int) -> dict[str, str]:
    """Headers that make a browser save these bytes, never show them (ASCII name)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                   for c in (filename or ""))[:100].strip("._") or f"attachment-{n}"  # fmt: skip
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
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
                Route("/api/messages/{id:int}", self.one, methods=["GET"]),
                Route("/api/messages/{id:int}/raw", self.raw, methods=["GET"]),
                Route(
                    "/api/messages/{id:int}/attachments/{n:int}", self.attachment, methods=["GET"]
                ),
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
        return HTMLResponse(page("SMTP sink", headings, rows, console_path="/mail"))

    async def list_json(self, request: Request) -> Response:
        newest_first = list(reversed(self.messages))
        params = request.query_params
        if not any(name in params for name in (*PAGE_PARAMS, "q", "message_id")):
            # the first call shape: every message with its bodies
            return JSONResponse({"total": len(newest_first), "messages": newest_first})
        query = params.get("q", "").strip().lower()[:200]
        if query:
            newest_first = [m for m in newest_first if _matches(m, query, SEARCHED)]
        if "message_id" in params:
            newest_first = [m for m in newest_first if m["message_id"] == params["message_id"]]
        return paged(request, newest_first, SUMMARY_KEYS)

    def _find(self, message_id: int) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["id"] == message_id), None)

    async def one(self, request: Request) -> Response:
        message = self._find(request.path_params["id"])
        if message is None:
            return JSONResponse({"detail": "no such message"}, status_code=404)
        return JSONResponse(message)

    async def attachment(self, request: Request) -> Response:
        """The n-th attachment (from 0) as a download that no browser renders: its
        bytes as application/octet-stream, Content-Disposition attachment, nosniff."""
        raw = self._raw.get(request.path_params["id"])
        if raw is None:
            return JSONResponse({"detail": "no such message"}, status_code=404)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        parts = list(parsed.iter_attachments())
        n = request.path_params["n"]
        if n >= len(parts):
            return JSONResponse({"detail": f"n: the message has {len(parts)} attachment(s)"},
                                status_code=404)  # fmt: skip
        part = parts[n]
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        body = payload if isinstance(payload, bytes) else b""
        return Response(body, headers=download_headers(part.get_filename(), n))

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
