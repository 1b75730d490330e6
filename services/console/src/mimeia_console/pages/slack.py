"""Slack sync: an org's channels, the allowlist, per-channel cursors, last sync, counts;
and its actions (fetch channels, sync messages, allow or stop a channel), each one call
of slack-connect's admin API."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.clients import sinks
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import back, checked_form, console, int_param, pager, render, tenant

ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
CHANNEL = re.compile(r"^[A-Za-z0-9]{1,64}$")
PAGE = 100  # channels a page shows
SYNCED_SHOWN = 200  # synced channels (cursor, counts) shown
SYNCS = {"channels": ["channels", "users"], "messages": ["messages"]}


def _org(request: Request, raw: str) -> str:
    return raw.strip() or console(request).settings.slack_org or tenant(request)


def _token(request: Request) -> str | None:
    token = console(request).settings.slack_admin_token
    return token.get_secret_value() if token is not None else None


async def slack(request: Request) -> Response:
    c = console(request)
    org = _org(request, request.query_params.get("org", ""))
    offset = int_param(request, "offset", 0, 0, 1_000_000)
    token = _token(request)
    error: ServiceError | None = None
    channels: list[dict[str, Any]] = []
    total = 0
    status: dict[str, Any] = {}
    if not ORG.match(org):
        error = ServiceError("console", 0, "org: letters, digits, '_', '.', '-'")
    elif token is None:
        error = ServiceError("console", 0, "CONSOLE_SLACK_ADMIN_TOKEN is not set")
    else:
        try:
            listed = await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "channels")
            everything = listed.get("channels", [])
            total = len(everything)
            channels = everything[offset : offset + PAGE]
            status = await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "status")
        except ServiceError as exc:
            error = exc
    synced = list((status.get("channels") or {}).items())
    return render(
        request,
        "slack.html",
        org=org,
        channels=channels,
        pages=pager(request, offset, PAGE, len(channels), total) if total else "",
        status=status,
        synced=synced[:SYNCED_SHOWN],
        synced_total=len(synced),
        actionable=error is None,
        error=error,
    )


async def _action(request: Request) -> tuple[str, str, str] | Response:
    """The form's org, its page's address and the admin token, or the redirect that
    says what is wrong."""
    form = await checked_form(request)
    org = _org(request, str(form.get("org", "")))
    if not ORG.match(org):
        return back("/slack", error="org: letters, digits, '_', '.', '-'")
    url = f"/slack?org={org}"
    token = _token(request)
    if token is None:
        return back(url, error="CONSOLE_SLACK_ADMIN_TOKEN is not set")
    return org, url, token


async def sync(request: Request) -> Response:
    found = await _action(request)
    if isinstance(found, Response):
        return found
    org, url, token = found
    form = await request.form()
    what = str(form.get("what", ""))
    if what not in SYNCS:
        return back(url, error="what: channels or messages")
    c = console(request)
    try:
        await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "sync",
                          "POST", {"what": SYNCS[what]})  # fmt: skip
    except ServiceError as exc:
        return back(url, error=f"sync refused: {exc.detail}")
    started = "channels and users" if what == "channels" else "messages of allowlisted channels"
    return back(url, ok=f"Sync started: {started}")


async def allowlist(request: Request) -> Response:
    """Add a channel to the allowlist or take it off (the API stores the whole list)."""
    found = await _action(request)
    if isinstance(found, Response):
        return found
    org, url, token = found
    form = await request.form()
    channel, change = str(form.get("channel", "")).strip(), str(form.get("change", ""))
    if not CHANNEL.match(channel):
        return back(url, error="channel: a Slack channel id (letters and digits)")
    if change not in ("add", "remove"):
        return back(url, error="change: add or remove")
    c = console(request)
    try:
        listed = await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "channels")
        allowed = {ch["id"] for ch in listed.get("channels", []) if ch.get("allowlisted")}
        allowed = allowed | {channel} if change == "add" else allowed - {channel}
        await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "allowlist",
                          "PUT", {"channel_ids": sorted(allowed)})  # fmt: skip
    except ServiceError as exc:
        return back(url, error=f"allowlist change refused: {exc.detail}")
    done = "added to" if change == "add" else "taken off"
    return back(url, ok=f"Channel {channel} {done} the allowlist ({len(allowed)} allowed)")


ROUTES = [
    Route("/slack", slack, methods=["GET"]),
    Route("/slack/sync", sync, methods=["POST"]),
    Route("/slack/allowlist", allowlist, methods=["POST"]),
]
