"""What every page shares: the app's state, the signed-in user, rendering, forms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from mimeia_console.auth import Credentials, SessionCodec
from mimeia_console.clients.automation import Automation
from mimeia_console.clients.flowmesh_reads import FlowMeshReads
from mimeia_console.metrics import Sampler
from mimeia_console.receiver import Receiver
from mimeia_console.settings import ConsoleSettings

HERE = Path(__file__).parent

NAV = [
    ("/", "Home"),
    ("/first-steps", "First steps"),
    ("/workflows", "Workflows"),
    ("/rules", "Rules"),
    ("/events", "Events"),
    ("/webhooks", "Webhooks"),
    ("/notifications", "Notifications"),
    ("/flowmesh", "FlowMesh"),
    ("/mail", "Mail"),
    ("/sms", "SMS"),
    ("/slack", "Slack"),
    ("/charts", "Charts"),
]


@dataclass
class Console:
    settings: ConsoleSettings
    http: httpx.AsyncClient
    fm: FlowMeshReads
    codec: SessionCodec
    sampler: Sampler
    receiver: Receiver
    env: Environment


def _pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _when(value: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS' UTC (the title keeps the full value)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return "—"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = _pretty
    env.filters["when"] = _when
    return env


def console(request: Request) -> Console:
    state: Console = request.app.state.console
    return state


def creds(request: Request) -> Credentials:
    value: Credentials = request.state.creds
    return value


def automation(request: Request) -> Automation:
    c = console(request)
    return Automation(c.http, c.settings.automation_url, creds(request))


def tenant(request: Request) -> str:
    return creds(request).tenant


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    c = console(request)
    user: Credentials | None = getattr(request.state, "creds", None)
    html = c.env.get_template(template).render(
        request=request,
        nav=NAV,
        path=request.url.path,
        user=user,
        tenants=c.settings.tenant_choices(),
        csrf=c.codec.csrf_token(user) if user else "",
        **{
            "flash_ok": request.query_params.get("ok", ""),
            "flash_error": request.query_params.get("error", ""),
            **context,  # a page that shows a refusal itself passes flash_error
        },
    )
    return HTMLResponse(html, status_code=http_status)


def with_query(url: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    if not clean:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(clean)


def back(url: str, ok: str = "", error: str = "") -> RedirectResponse:
    """After an action: back to ``url`` with the outcome shown there."""
    return RedirectResponse(with_query(url, ok=ok[:500], error=error[:1000]), status_code=303)


def safe_next(value: str, default: str = "/") -> str:
    """A redirect target on this site only (a path, never another origin)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    return value


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches this session's."""
    form = await request.form()
    if not console(request).codec.csrf_ok(creds(request), str(form.get("csrf", ""))):
        raise HTTPException(403, "the form is stale or came from another site; reload the page")
    return form


def int_param(request: Request, name: str, default: int, low: int = 0, high: int = 10**9) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name}: must be a whole number") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name}: must be between {low} and {high}")
    return value


def pager(
    request: Request,
    offset: int,
    limit: int,
    shown: int,
    total: int | None,
    *,
    param: str = "offset",
) -> Markup:
    """Previous / next links that keep the page's other query parameters (``param``
    names the offset, for a page with more than one paged list)."""
    params = dict(request.query_params)
    params.pop("ok", None)
    params.pop("error", None)
    links = []
    if offset > 0:
        prev = {**params, param: str(max(0, offset - limit))}
        links.append(f'<a rel="prev" href="?{urlencode(prev)}">← newer</a>')
    more = (offset + shown < total) if total is not None else shown >= limit
    if more:
        nxt = {**params, param: str(offset + limit)}
        links.append(f'<a rel="next" href="?{urlencode(nxt)}">older →</a>')
    count = f"{offset + 1}-{offset + shown}" if shown else "none"
    of = f" of {total}" if total is not None else ""
    return Markup(  # noqa: S704 (numbers and urlencoded links)
        f'<nav class="pager" aria-label="pages"><span>{count}{of}</span> '
        + " ".join(links)
        + "</nav>"
    )
