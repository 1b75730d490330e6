"""The development sinks' web APIs (mail and SMS) and slack-connect's admin API."""

from __future__ import annotations

from typing import Any

import httpx

from mimeia_console.clients.http import call


async def mail(http: httpx.AsyncClient, base_url: str) -> list[dict[str, Any]]:
    body = await call(http, "smtp-sink", "GET", f"{base_url.rstrip('/')}/api/messages")
    messages = body.get("messages", []) if isinstance(body, dict) else []
    return [m for m in messages if isinstance(m, dict)]


async def mail_raw(http: httpx.AsyncClient, base_url: str, message_id: int) -> str:
    body = await call(
        http, "smtp-sink", "GET", f"{base_url.rstrip('/')}/api/messages/{message_id}/raw"
    )
    return str(body or "")


async def sms(http: httpx.AsyncClient, base_url: str) -> list[dict[str, Any]]:
    body = await call(http, "sms-sink", "GET", f"{base_url.rstrip('/')}/api/messages")
    messages = body.get("messages", []) if isinstance(body, dict) else []
    return [m for m in messages if isinstance(m, dict)]


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
