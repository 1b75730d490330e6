"""Slack sync: an org's channels, the allowlist, per-channel cursors, last sync, counts."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.clients import sinks
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import console, render, tenant

ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


async def slack(request: Request) -> Response:
    c = console(request)
    org = request.query_params.get("org", "").strip() or c.settings.slack_org or tenant(request)
    token = c.settings.slack_admin_token
    error: ServiceError | None = None
    channels: list[dict[str, Any]] = []
    status: dict[str, Any] = {}
    if not ORG.match(org):
        error = ServiceError("console", 0, "org: letters, digits, '_', '.', '-'")
    elif token is None:
        error = ServiceError("console", 0, "CONSOLE_SLACK_ADMIN_TOKEN is not set")
    else:
        try:
            secret = token.get_secret_value()
            listed = await sinks.slack(
                c.http, c.settings.slack_connect_url, secret, org, "channels"
            )
            channels = listed.get("channels", [])[:500]
            status = await sinks.slack(c.http, c.settings.slack_connect_url, secret, org, "status")
        except ServiceError as exc:
            error = exc
    return render(request, "slack.html", org=org, channels=channels, status=status, error=error)


ROUTES = [Route("/slack", slack, methods=["GET"])]
