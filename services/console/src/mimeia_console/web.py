"""What every page shares: the app's state, the signed-in user, rendering, forms."""

from __future__ import annotations

import json
from contextvars import ContextVar
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

from mimeia_console.auth import FLASH_COOKIE, FLASH_MAX_AGE, Credentials, SessionCodec
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


# this request's session codec and whether it came over https (set by the app's
# middleware): what :func:`back` seals an action's outcome with
FLASH: ContextVar[tuple[SessionCodec, bool] | None] = ContextVar("console_flash", default=None)


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


def _slack_ts(value: Any) -> str:
    """A Slack ``ts`` ("1700000160.000100", Unix seconds) as :func:`_when` shows times."""
    try:
        return _when(datetime.fromtimestamp(float(value), UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"


def build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = _pretty
    env.filters["when"] = _when
    env.filters["slack_ts"] = _slack_ts
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
    sealed = request.cookies.get(FLASH_COOKIE)
    flash_ok, flash_error = (c.codec.load_flash(sealed) if sealed else None) or ("", "")
    html = c.env.get_template(template).render(
        request=request,
        nav=NAV,
        path=request.url.path,
        user=user,
        tenants=c.settings.tenant_choices(),
        csrf=c.codec.csrf_token(user) if user else "",
        **{
            # only what this console sealed in the flash cookie (never the URL's text)
            "flash_ok": flash_ok,
            "flash_error": flash_error,
            **context,  # a page that shows a refusal itself passes flash_error
        },
    )
    response = HTMLResponse(html, status_code=http_status)
    if sealed is not None:  # shown once
        response.delete_cookie(FLASH_COOKIE, httponly=True, samesite="lax")
    return response


def with_query(url: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    if not clean:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(clean)


def back(url: str, ok: str = "", error: str = "") -> RedirectResponse:
    """After an action: back to ``url`` with the outcome shown there, once. The message
    travels in a sealed cookie (see :data:`FLASH`), never in the URL, so nobody can
    put their own words on the console's pages with a crafted link."""
    response = RedirectResponse(url, status_code=303)
    sealing = FLASH.get()
    if sealing is not None and (ok or error):
        codec, secure = sealing
        response.set_cookie(FLASH_COOKIE, codec.dump_flash(ok, error), max_age=FLASH_MAX_AGE,
                            httponly=True, samesite="lax", secure=secure)  # fmt: skip
    return response


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


def token_pager(
    request: Request, param: str, page_token: str, next_token: str, shown: int
) -> Markup:
    """First / next links for a list the server pages by token: ``param`` names the
    query parameter carrying it (the page's other parameters are kept)."""
    params = dict(request.query_params)
    params.pop("ok", None)
    params.pop("error", None)
    params.pop(param, None)
    links = []
    if page_token:
        links.append(f'<a rel="first" href="?{urlencode(params)}">← first</a>')
    if next_token:
        links.append(f'<a rel="next" href="?{urlencode({**params, param: next_token})}">more →</a>')
    return Markup(  # noqa: S704 (a number and urlencoded links)
        f'<nav class="pager" aria-label="pages"><span>{shown} shown</span> '
        + " ".join(links)
        + "</nav>"
    )


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
