"""The development sinks' web APIs (mail and SMS) and slack-connect's admin API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from mimeia_console.clients.http import ServiceError, call, error_text


def _page(body: Any) -> tuple[list[dict[str, Any]], int]:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    total = body.get("total", 0) if isinstance(body, dict) else 0
    return [m for m in messages if isinstance(m, dict)], int(total or 0)


async def mail_page(
    http: httpx.AsyncClient, base_url: str, limit: int, offset: int, q: str = ""
) -> tuple[list[dict[str, Any]], int]:
    """One page of the SMTP sink's summaries (no bodies), newest first, and how many match."""
    params: dict[str, Any] = {"limit": limit, "offset": offset, **({"q": q} if q else {})}
    body = await call(
        http, "smtp-sink", "GET", f"{base_url.rstrip('/')}/api/messages", params=params
    )
    return _page(body)


async def mail_by_message_id(
    http: httpx.AsyncClient, base_url: str, message_id: str
) -> dict[str, Any] | None:
    """The newest mail whose Message-ID header is ``message_id`` (a summary), if any."""
    body = await call(http, "smtp-sink", "GET", f"{base_url.rstrip('/')}/api/messages",
                      params={"message_id": message_id, "limit": 1})  # fmt: skip
    found, _ = _page(body)
    return found[0] if found else None


async def mail_message(http: httpx.AsyncClient, base_url: str, message_id: int) -> dict[str, Any]:
    """One mail with its text and HTML bodies."""
    body = await call(http, "smtp-sink", "GET", f"{base_url.rstrip('/')}/api/messages/{message_id}")
    return body if isinstance(body, dict) else {}


async def mail_raw(http: httpx.AsyncClient, base_url: str, message_id: int) -> str:
    body = await call(
        http, "smtp-sink", "GET", f"{base_url.rstrip('/')}/api/messages/{message_id}/raw"
    )
    return str(body or "")


async def mail_attachment(http: httpx.AsyncClient, base_url: str, message_id: int, n: int) -> bytes:
    """The bytes of a mail's n-th attachment (from 0)."""
    url = f"{base_url.rstrip('/')}/api/messages/{message_id}/attachments/{n}"
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        raise ServiceError("smtp-sink", 0, f"cannot be reached ({type(exc).__name__})") from None
    if response.status_code >= 400:
        raise ServiceError("smtp-sink", response.status_code, error_text(response))
    return response.content


async def sms_page(
    http: httpx.AsyncClient, base_url: str, limit: int, offset: int, q: str = ""
) -> tuple[list[dict[str, Any]], int]:
    """One page of the SMS sink's messages (bodies cut short), newest first, and the total."""
    params: dict[str, Any] = {"limit": limit, "offset": offset, **({"q": q} if q else {})}
    body = await call(
        http, "sms-sink", "GET", f"{base_url.rstrip('/')}/api/messages", params=params
    )
    return _page(body)


async def sms_message(http: httpx.AsyncClient, base_url: str, sid: str) -> dict[str, Any]:
    url = f"{base_url.rstrip('/')}/api/messages/{quote(sid, safe='')}"
    body = await call(http, "sms-sink", "GET", url)
    return body if isinstance(body, dict) else {}


async def slack(
    http: httpx.AsyncClient,
    base_url: str,
    token: str,
    org: str,
    what: str,
    method: str = "GET",
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One call of slack-connect's admin API (``/v1/orgs/<org>/<what>``)."""
    answer = await call(
        http,
        "slack-connect",
        method,
        f"{base_url.rstrip('/')}/v1/orgs/{org}/{what}",
        headers={"Authorization": f"Bearer {token}"},
        **({"json": body} if body is not None else {}),
    )
    return answer if isinstance(answer, dict) else {}
