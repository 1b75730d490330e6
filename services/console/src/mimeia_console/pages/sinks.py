"""Mail and SMS: the development sinks' inboxes, with a sanitized HTML preview."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import nh3
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mimeia_console.clients import sinks
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import console, int_param, pager, render

PAGE = 25
# the preview document may show inline styles and data: images, and run nothing
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
ALLOWED_TAGS = set(nh3.ALLOWED_TAGS)  # nh3's safe set (no script, style, iframe, form)


def sanitize(html: str) -> str:
    """Email HTML made safe to show: no scripts, handlers, forms, frames or remote loads."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={
            "*": {"title", "align", "width", "height", "colspan", "rowspan"},
            "a": {"href"},
            "img": {"src", "alt"},
        },
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )


async def mail_list(request: Request) -> Response:
    c = console(request)
    offset = int_param(request, "offset", 0)
    query = request.query_params.get("q", "").strip()[:200]
    page, total = await sinks.mail_page(c.http, c.settings.smtp_sink_url, PAGE, offset, query)
    return render(
        request,
        "mail.html",
        messages=page,
        q=query,
        pager=pager(request, offset, PAGE, len(page), total),
    )


async def _message(request: Request) -> dict[str, Any]:
    c = console(request)
    wanted = request.path_params["message_id"]
    try:
        return await sinks.mail_message(c.http, c.settings.smtp_sink_url, wanted)
    except ServiceError as exc:
        if exc.status == 404:
            msg = f"mail {wanted}: not in the sink (it keeps the last 1000)"
            raise HTTPException(404, msg) from None
        raise


async def mail_detail(request: Request) -> Response:
    c = console(request)
    message = await _message(request)
    raw = await sinks.mail_raw(c.http, c.settings.smtp_sink_url, int(message["id"]))
    parsed = email.message_from_string(raw, policy=email.policy.default)
    headers = [(k, str(v)) for k, v in parsed.items()]
    return render(request, "mail_message.html", message=message, headers=headers)


async def mail_preview(request: Request) -> Response:
    message = await _message(request)
    html = message.get("html")
    body = sanitize(html) if html else "<p><em>(no HTML part)</em></p>"
    document = f'<!doctype html><meta charset="utf-8"><base target="_blank">{body}'
    return HTMLResponse(document, headers={"Content-Security-Policy": PREVIEW_CSP})


def _download_name(filename: object, n: int) -> str:
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                   for c in str(filename or ""))[:100].strip("._")  # fmt: skip
    return name or f"attachment-{n}"


async def mail_attachment(request: Request) -> Response:
    """An attachment as a download: never rendered in the console's origin (octet-stream,
    Content-Disposition attachment, nosniff, a sandboxing CSP)."""
    c = console(request)
    message = await _message(request)
    n = request.path_params["n"]
    attachments = message.get("attachments") or []
    if n >= len(attachments):
        raise HTTPException(404, f"attachment {n}: the mail has {len(attachments)}")
    data = await sinks.mail_attachment(c.http, c.settings.smtp_sink_url, int(message["id"]), n)
    name = _download_name(attachments[n].get("filename"), n)
    return Response(data, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })  # fmt: skip


async def sms_list(request: Request) -> Response:
    c = console(request)
    offset = int_param(request, "offset", 0)
    query = request.query_params.get("q", "").strip()[:200]
    page, total = await sinks.sms_page(c.http, c.settings.sms_sink_url, PAGE, offset, query)
    return render(
        request,
        "sms.html",
        messages=page,
        q=query,
        pager=pager(request, offset, PAGE, len(page), total),
    )


ROUTES = [
    Route("/mail", mail_list, methods=["GET"]),
    Route("/mail/{message_id:int}", mail_detail, methods=["GET"]),
    Route("/mail/{message_id:int}/preview", mail_preview, methods=["GET"]),
    Route("/mail/{message_id:int}/attachments/{n:int}", mail_attachment, methods=["GET"]),
    Route("/sms", sms_list, methods=["GET"]),
]
