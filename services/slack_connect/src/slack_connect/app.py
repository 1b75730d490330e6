"""The HTTP surface: incoming routes for Paragon workflows, admin routes, status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common_mesh import AsyncMeshEngine, MeshDeliveryError, MeshError
from common_mesh.protocol import validate_name
from mimeia_telemetry.asgi import TraceMiddleware
from mimeia_telemetry.tracing import configure_tracing
from slack_connect.auth import (
    INCOMING_SECRET_HEADER,
    check_bearer,
    check_incoming,
    check_incoming_token,
)
from slack_connect.ingest import CHANNEL_MODEL, USER_MODEL, Ingestor
from slack_connect.paragon import (
    ParagonClient,
    ParagonCredentialInvalid,
    ParagonError,
    SyncWindow,
    UserTokenSigner,
)
from slack_connect.paragon.models import WindowBound
from slack_connect.settings import Settings
from slack_connect.slack.internal import User
from slack_connect.slack.raw import (
    CHANNEL_ID,
    SlackChannel,
    SlackChannelsPayload,
    SlackMessagesPayload,
    SlackUsersPayload,
)
from slack_connect.store import open_store

__all__ = ["create_app"]


class AllowlistRequest(BaseModel):
    channel_ids: list[str] = Field(max_length=5000)

    @field_validator("channel_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for cid in value:
            if not CHANNEL_ID.match(cid):
                raise ValueError(f"not a Slack conversation id: {cid!r}")
        return sorted(set(value))


SyncKind = Literal["channels", "users", "messages"]


class SyncRequest(BaseModel):
    what: list[SyncKind] = Field(default_factory=lambda: list[SyncKind](["messages"]), min_length=1)
    latest: WindowBound | None = None
    limit: int | None = Field(default=None, ge=1, le=1000)


def _org(org_id: Annotated[str, Path(max_length=128)]) -> str:
    try:
        return validate_name("org_id", org_id)
    except MeshError as exc:
        raise HTTPException(400, detail=str(exc)) from None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


class BodyLimit:
    """Refuses bodies over ``limit`` bytes before anything parses them (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, detail=f"body larger than {self.limit} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"body larger than {self.limit} bytes"}, 413)
        await response(scope, receive, send)


def incoming_auth(
    request: Request,
    org: Annotated[str, Depends(_org)],
    secret: Annotated[str | None, Header(alias=INCOMING_SECRET_HEADER)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    master = _services(request).settings.incoming_secret.get_secret_value()
    if secret is not None:
        accepted = check_incoming(master, org, secret)
    else:
        accepted = check_incoming_token(master, org, authorization)
    if not accepted:
        raise HTTPException(
            401, detail=f"missing or wrong {INCOMING_SECRET_HEADER} or signed bearer token"
        )
    return org


def admin_auth(
    request: Request,
    org: Annotated[str, Depends(_org)],
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    token = _services(request).settings.admin_token.get_secret_value()
    if not check_bearer(token, authorization):
        raise HTTPException(401, detail="missing or wrong admin bearer token")
    return org


Incoming = Annotated[str, Depends(incoming_auth)]
Admin = Annotated[str, Depends(admin_auth)]


class Services:
    """Everything the routes share, built once per app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(
            settings.sync_store_url,
            redis_prefix=settings.redis_prefix,
            overlap_seconds=settings.sync_overlap_seconds,
        )
        self.mesh = AsyncMeshEngine(
            settings.mesh_url,
            token=settings.mesh_token.get_secret_value() if settings.mesh_token else None,
        )
        self.paragon = ParagonClient(
            settings.paragon_project_id,
            UserTokenSigner(settings.signing_key_pem, audience=settings.paragon_audience),
            api_base=settings.paragon_api_base,
            trigger_base=settings.paragon_trigger_base,
            timeout=settings.paragon_timeout,
        )
        self.ingest = Ingestor(self.store, self.mesh, settings.mesh_module)

    async def aclose(self) -> None:
        await self.paragon.aclose()
        await self.mesh.aclose()
        await self.store.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    # tracing first, so everything built below (Paragon and mesh clients) sees it
    configure_tracing("slack-connect")  # OTEL_* decide; off by default
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.aclose()

    # our TraceMiddleware makes the server span (one per request, full route)
    app = FastAPI(
        title="slack-connect",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.state.services = services

    @app.exception_handler(MeshDeliveryError)
    async def _mesh_down(request: Request, exc: MeshDeliveryError) -> JSONResponse:
        return JSONResponse({"detail": f"data mesh did not store the data: {exc.detail}"}, 503)

    @app.exception_handler(ParagonCredentialInvalid)
    async def _reconnect(request: Request, exc: ParagonCredentialInvalid) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "credential_status": exc.credential_status}, status_code=409
        )

    @app.exception_handler(ParagonError)
    async def _paragon_failed(request: Request, exc: ParagonError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "paragon_status": exc.status}, status_code=502)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # -- incoming: what Paragon workflows post back ----------------------

    @app.post("/v1/orgs/{org_id}/incoming/channels")
    async def incoming_channels(org: Incoming, payload: SlackChannelsPayload) -> dict[str, int]:
        return await services.ingest.channels(org, payload)

    @app.post("/v1/orgs/{org_id}/incoming/users")
    async def incoming_users(org: Incoming, payload: SlackUsersPayload) -> dict[str, int]:
        return await services.ingest.users(org, payload)

    @app.post("/v1/orgs/{org_id}/incoming/messages")
    async def incoming_messages(org: Incoming, payload: SlackMessagesPayload) -> dict[str, Any]:
        return asdict(await services.ingest.messages(org, payload))

    # -- admin ------------------------------------------------------------

    @app.get("/v1/orgs/{org_id}/channels")
    async def list_channels(
        org: Admin,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        """The org's channels in id order with the total; ``limit`` (1-500) and
        ``offset`` give one page (without ``limit``: every channel)."""
        if limit is None:
            items = sorted((await services.store.get_raw(org, "channels")).items())
            items, total = items[offset:], len(items)
        else:
            items, total = await services.store.raw_page(org, "channels", offset, limit)
        allow = await services.store.allowlist(org)
        fields = {"id", "name", "is_private", "is_archived", "num_members"}
        channels = [
            {
                **SlackChannel.model_validate_json(v).model_dump(include=fields),
                "allowlisted": k in allow,
            }
            for k, v in items
        ]
        return {"channels": channels, "total": total, "offset": offset, "limit": limit}

    @app.put("/v1/orgs/{org_id}/allowlist")
    async def set_allowlist(org: Admin, body: AllowlistRequest) -> dict[str, Any]:
        known = await services.store.get_raw(org, "channels")
        unknown = [cid for cid in body.channel_ids if cid not in known]
        if unknown:
            raise HTTPException(
                422, detail=f"channel_ids: unknown channels {unknown[:10]}; fetch channels first"
            )
        # Paragon first: if it refuses, our allowlist stays as it was.
        user = await services.paragon.set_user_meta(
            org, {"userid": org, "allowListedChannels": body.channel_ids}
        )
        await services.store.set_allowlist(org, body.channel_ids)
        allowed = await services.ingest.allowed_channels(org, set(body.channel_ids))
        await services.ingest.send(org, CHANNEL_MODEL, list(allowed))
        connection = User(org_id=org, kind="connection", user_id=user.user_id)
        await services.ingest.send(org, USER_MODEL, [connection])
        return {"allowlist": body.channel_ids, "paragon_meta": user.meta}

    @app.post("/v1/orgs/{org_id}/sync")
    async def start_sync(org: Admin, body: SyncRequest) -> dict[str, Any]:
        integration = settings.paragon_integration
        await services.paragon.require_connection(org, integration)
        triggered: dict[str, Any] = {}
        workflows = {"channels": settings.workflow_channels, "users": settings.workflow_users}
        for kind in ("channels", "users"):
            if kind in body.what:
                workflow = workflows[kind]
                if not workflow:
                    raise HTTPException(422, detail=f"what: no workflow configured for {kind}")
                triggered[kind] = await services.paragon.trigger_workflow(
                    org, workflow, extra={"org_id": org}
                )
        if "messages" in body.what:
            allow = await services.store.allowlist(org)
            if not allow:
                raise HTTPException(409, detail="allowlist is empty; set it before syncing")
            cursors = await services.store.cursors(org)
            starts = {cid: services.store.oldest_for(cursors.get(cid)) for cid in sorted(allow)}
            window = SyncWindow(
                oldest=min(starts.values(), key=float),
                latest=body.latest,
                limit=body.limit or settings.sync_page_limit,
            )
            triggered["messages"] = await services.paragon.trigger_workflow(
                org, settings.workflow_messages, window, extra={"org_id": org, "channels": starts}
            )
        return {"triggered": triggered}

    @app.get("/v1/orgs/{org_id}/status")
    async def status(org: Admin) -> dict[str, Any]:
        report = await services.store.status(org)
        try:
            user = await services.paragon.get_user(org)
            report["connection"] = {
                "credential_status": user.connection_status(settings.paragon_integration),
                "allowlisted_in_paragon": user.meta.get("allowListedChannels", []),
            }
        except ParagonError as exc:
            report["connection"] = {"credential_status": "UNKNOWN", "error": str(exc)}
        return report

    app.add_middleware(TraceMiddleware, skip=("/health", "/ready"))
    return app
