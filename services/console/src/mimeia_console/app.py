"""The console's Starlette application: sessions, security headers, every page's routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mimeia_console import auth
from mimeia_console.clients import sinks
from mimeia_console.clients.flowmesh_reads import ACCESS, FlowMeshReads
from mimeia_console.clients.http import ServiceError, error_text
from mimeia_console.metrics import Sampler
from mimeia_console.pages import all_routes
from mimeia_console.receiver import Receiver
from mimeia_console.settings import ConsoleSettings
from mimeia_console.web import (
    FLASH,
    HERE,
    Console,
    back,
    build_env,
    checked_form,
    console,
    creds,
    render,
    safe_next,
)

log = logging.getLogger(__name__)
PUBLIC = ("/login", "/static/", "/receiver/", "/healthz")
TENANT_COOKIE = "console_tenant"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)


def _same_origin(request: Request) -> bool:
    """A browser's POST names its page's origin; it must be this console's."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # not from a browser page (curl, tests): the CSRF token still applies
    return urlsplit(origin).netloc == request.headers.get("host", "")


class Sessions:
    """Who is calling (the session cookie, or loopback sign-in under `mimeia up`); sends
    everyone else to the login page; refuses cross-site posts; adds security headers.
    Plain ASGI, so streamed responses (the live tail) see the client leave."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        c: Console = request.app.state.console
        path = request.url.path
        if (
            request.method == "POST"
            and not path.startswith("/receiver/")
            and (not _same_origin(request))
        ):
            refused = JSONResponse({"detail": "cross-site form posts are refused"}, 403)
            await refused(scope, receive, send)
            return
        creds = None
        cookie = request.cookies.get(auth.COOKIE)
        if cookie:
            creds = c.codec.load(cookie)
        # a proxy on this host would make every visitor look local: proxied requests
        # are never signed in from loopback
        proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
        local = bool(request.client) and auth.is_loopback(request.client.host if request.client
                                                         else None)  # fmt: skip
        if creds is None and local and not proxied:
            creds = auth.loopback_credentials(c.settings, request.cookies.get(TENANT_COOKIE))
        request.state.creds = creds
        if creds is None and not path.startswith(PUBLIC):
            await RedirectResponse(f"/login?next={quote(path)}", status_code=303)(
                scope, receive, send
            )
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        # every FlowMesh call made for this request carries the user's own token
        access = ACCESS.set(auth.flowmesh_access(c.settings, creds))
        flash = FLASH.set((c.codec, request.url.scheme == "https"))
        try:
            await self.app(scope, receive, with_headers)
        finally:
            FLASH.reset(flash)
            ACCESS.reset(access)


async def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        next=safe_next(request.query_params.get("next", "/")),
        tenant=console(request).settings.default_tenant,
        error="",
    )


async def login(request: Request) -> Response:
    c = console(request)
    form = await request.form()
    target = safe_next(str(form.get("next", "/")))
    creds = None
    try:
        creds = auth.from_login_form(
            str(form.get("token", "")),
            str(form.get("api_key", "")),
            str(form.get("tenant", "")),
            str(form.get("flowmesh_token", "")),
            str(form.get("slack_token", "")),
        )
        # the service decides: a token or key it refuses never becomes a session
        probe = {**creds.automation_headers()}
        response = await c.http.get(
            f"{c.settings.automation_url.rstrip('/')}/api/v1/workflows",
            params={"limit": 1},
            headers=probe,
        )
        if response.status_code == 401:  # 403: signed in, just not allowed to list workflows
            raise auth.LoginError(f"automation refused: {error_text(response)}")
        # each service decides on its own token: FlowMesh must let it use this tenant,
        # slack-connect must take it for one read of the org's channels
        checks: list[tuple[str, str, str, Callable[[], Awaitable[object]]]] = []
        if fm_token := creds.flowmesh_token:
            checks.append(("flowmesh_token", "FlowMesh", "the FlowMesh token",
                           lambda: c.fm.check_token(fm_token, creds.tenant)))  # fmt: skip
        if slack_token := creds.slack_token:
            org = c.settings.slack_org or creds.tenant
            checks.append(("slack_token", "slack-connect", "the Slack admin token",
                           lambda: sinks.slack(c.http, c.settings.slack_connect_url, slack_token,
                                               org, "channels?limit=1")))  # fmt: skip
        for field, service, what, check in checks:
            try:
                await check()
            except ServiceError as exc:
                if exc.status not in (401, 403):
                    return render(
                        request,
                        "login.html",
                        http_status=502,
                        next=target,
                        tenant=creds.tenant,
                        error=f"{service.lower()}: cannot check {what} ({exc.detail})",
                    )
                raise auth.LoginError(f"{field}: {service} refused it: {exc.detail}") from None
    except auth.LoginError as exc:
        return render(
            request,
            "login.html",
            http_status=400,
            next=target,
            error=str(exc),
            tenant=str(form.get("tenant", "")),
        )
    except httpx.HTTPError:
        return render(
            request,
            "login.html",
            http_status=502,
            next=target,
            tenant=creds.tenant if creds else "",
            error="automation: cannot be reached to check the credentials",
        )
    redirect = RedirectResponse(target, status_code=303)
    _set_session(redirect, c, creds, request)
    return redirect


def _set_session(response: Response, c: Console, creds: auth.Credentials, request: Request) -> None:
    response.set_cookie(
        auth.COOKIE,
        c.codec.dump(creds),
        max_age=c.codec.max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def logout(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


async def switch_tenant(request: Request) -> Response:
    c = console(request)
    form = await checked_form(request)
    target = safe_next(str(form.get("next", "/")))
    current = creds(request)
    try:
        chosen = current.with_tenant(str(form.get("tenant", "")).strip())
    except auth.LoginError as exc:
        return back(target, error=str(exc))
    response = back(target, ok=f"Now working in tenant {chosen.tenant}")
    if current.loopback:
        response.set_cookie(TENANT_COOKIE, chosen.tenant, httponly=True, samesite="strict")
    else:
        _set_session(response, c, chosen, request)
    return response


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def receive_webhook(request: Request) -> Response:
    return await console(request).receiver.handle(request)


async def service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return render(
        request,
        "error.html",
        http_status=exc.page_status,
        heading=f"{exc.service} said no",
        message=str(exc),
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(
        request,
        "error.html",
        http_status=exc.status_code,
        heading="That did not work",
        message=exc.detail,
    )


def create_app(settings: ConsoleSettings | None = None) -> Starlette:
    settings = settings or ConsoleSettings()
    http = httpx.AsyncClient(
        timeout=settings.request_timeout_seconds, limits=httpx.Limits(max_connections=50)
    )
    fm = FlowMeshReads(
        settings.flowmesh_url,
        settings.flowmesh_token.get_secret_value() if settings.flowmesh_token else None,
        settings.request_timeout_seconds,
        settings.streams(),
        settings.queues(),
        settings.kv_stores(),
        settings.consumer_groups(),
    )
    targets = {
        "automation": settings.automation_url.rstrip("/") + "/metrics",
        "flowmesh": settings.flowmesh_metrics_url,
    }
    metrics_tokens = {
        "automation": settings.automation_metrics_token,
        "flowmesh": settings.flowmesh_metrics_token,
    }
    sampler = Sampler(
        http,
        targets,
        settings.metrics_interval_seconds,
        {k: v.get_secret_value() for k, v in metrics_tokens.items() if v is not None},
    )
    state = Console(
        settings,
        http,
        fm,
        auth.SessionCodec(settings.effective_session_secret(), settings.session_hours * 3600),
        sampler,
        Receiver(),
        build_env(),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sampler.start()
        try:
            yield
        finally:
            await sampler.stop()
            await fm.close()
            await http.aclose()

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/tenant", switch_tenant, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/receiver/{channel}", receive_webhook, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        *all_routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Sessions)],
        lifespan=lifespan,
        exception_handlers={ServiceError: service_error, HTTPException: http_error},
    )
    app.state.console = state
    return app
