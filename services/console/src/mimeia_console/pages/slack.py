"""Slack sync: an org's channels, the allowlist, per-channel cursors, last sync, counts;
and its actions (fetch channels, sync messages, allow or stop a channel), each one call
of slack-connect's admin API with the signed-in user's own Slack admin token
(``auth.slack_access``: without one, the console's token reads and actions are refused)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console import auth
from mimeia_console.clients import sinks
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import (
    back,
    checked_form,
    console,
    creds,
    int_param,
    pager,
    render,
    tenant,
)

ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
CHANNEL = re.compile(r"^[A-Za-z0-9]{1,64}$")
PAGE = 100  # channels a page shows
SYNCED_SHOWN = 200  # synced channels (cursor, counts) shown
SYNCS = {"channels": ["channels", "users"], "messages": ["messages"]}
CREDENTIAL = "a Slack admin token"  # "sign in with ... to <act>"


def _org(request: Request, raw: str) -> str:
    return raw.strip() or console(request).settings.slack_org or tenant(request)


def _token(request: Request, what: str, act: str | None = None) -> str:
    """The admin token this request's slack-connect calls carry; ServiceError (403,
    "sign in with a Slack admin token to ...") when it may not see ``what`` or do ``act``,
    and (no status) when it would use the console's token and there is none."""
    access = auth.slack_access(console(request).settings, creds(request))
    refusal = access.refusal(CREDENTIAL, what, act)
    if refusal is not None:
        raise ServiceError("console", 403, refusal)
    if access.token is None:
        raise ServiceError(
            "console", 0, f"CONSOLE_SLACK_ADMIN_TOKEN is not set; sign in with {CREDENTIAL}"
        )
    return access.token


async def slack(
    request: Request, org: str = "", refused: ServiceError | None = None, action: str = ""
) -> Response:
    """The page; after a refused action (``refused``), shown again with the reason and
    the refusal's status."""
    c = console(request)
    org = org or _org(request, request.query_params.get("org", ""))
    offset = 0 if refused else int_param(request, "offset", 0, 0, 1_000_000)
    error: ServiceError | None = None
    channels: list[dict[str, Any]] = []
    total = 0
    status: dict[str, Any] = {}
    try:
        if not ORG.match(org):
            raise ServiceError("console", 0, "org: letters, digits, '_', '.', '-'")
        token = _token(request, "Slack channels")
        listed = await sinks.slack(c.http, c.settings.slack_connect_url, token, org,
                                   f"channels?limit={PAGE}&offset={offset}")  # fmt: skip
        channels = [ch for ch in listed.get("channels", []) if isinstance(ch, dict)]
        total = int(listed.get("total") or 0)
        status = await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "status")
    except ServiceError as exc:
        error = exc
    synced = list((status.get("channels") or {}).items())
    shown: dict[str, Any] = {}
    if refused is not None:
        shown = {"flash_ok": "", "flash_error": f"{action} refused: {refused.detail}",
                 "http_status": refused.page_status}  # fmt: skip
    elif error is not None and error.status in (401, 403):
        shown = {"http_status": error.status}
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
        **shown,
    )


async def _action(request: Request) -> tuple[str, str] | Response:
    """The form's org and its page's address, or the redirect that says what is wrong."""
    form = await checked_form(request)
    org = _org(request, str(form.get("org", "")))
    if not ORG.match(org):
        return back("/slack", error="org: letters, digits, '_', '.', '-'")
    return org, f"/slack?org={org}"


async def sync(request: Request) -> Response:
    found = await _action(request)
    if isinstance(found, Response):
        return found
    org, url = found
    form = await request.form()
    what = str(form.get("what", ""))
    if what not in SYNCS:
        return back(url, error="what: channels or messages")
    c = console(request)
    try:
        token = _token(request, "Slack channels", "start syncs")
        await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "sync",
                          "POST", {"what": SYNCS[what]})  # fmt: skip
    except ServiceError as exc:
        return await slack(request, org, refused=exc, action="sync")
    started = "channels and users" if what == "channels" else "messages of allowlisted channels"
    return back(url, ok=f"Sync started: {started}")


async def allowlist(request: Request) -> Response:
    """Add a channel to the allowlist or take it off (the API stores the whole list)."""
    found = await _action(request)
    if isinstance(found, Response):
        return found
    org, url = found
    form = await request.form()
    channel, change = str(form.get("channel", "")).strip(), str(form.get("change", ""))
    if not CHANNEL.match(channel):
        return back(url, error="channel: a Slack channel id (letters and digits)")
    if change not in ("add", "remove"):
        return back(url, error="change: add or remove")
    c = console(request)
    try:
        token = _token(request, "Slack channels", "change the allowlist")
        listed = await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "channels")
        allowed = {ch["id"] for ch in listed.get("channels", []) if ch.get("allowlisted")}
        allowed = allowed | {channel} if change == "add" else allowed - {channel}
        await sinks.slack(c.http, c.settings.slack_connect_url, token, org, "allowlist",
                          "PUT", {"channel_ids": sorted(allowed)})  # fmt: skip
    except ServiceError as exc:
        return await slack(request, org, refused=exc, action="allowlist change")
    done = "added to" if change == "add" else "taken off"
    return back(url, ok=f"Channel {channel} {done} the allowlist ({len(allowed)} allowed)")


ROUTES = [
    Route("/slack", slack, methods=["GET"]),
    Route("/slack/sync", sync, methods=["POST"]),
    Route("/slack/allowlist", allowlist, methods=["POST"]),
]
