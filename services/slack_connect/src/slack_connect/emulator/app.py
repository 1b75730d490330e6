"""A local Paragon: Proxy API, Users API and workflow triggers over an emulated Slack.

Requests must carry a Paragon User Token: an RS256 JWT checked with the
configured public key (``exp``, ``iat``, ``sub`` required; ``aud`` when
configured). A triggered workflow runs in the background like a Paragon
workflow would: it reads the emulated workspace and POSTs Slack-shaped data
to the service's incoming routes with the org's shared secret.

Test controls live under ``/_emulator`` (credential status, injected faults,
workflow runs, each with the ``traceparent`` its trigger carried).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slack_connect.auth import INCOMING_SECRET_HEADER, org_incoming_secret
from slack_connect.emulator.workspace import SlackWorkspace

__all__ = ["EmulatorConfig", "create_emulator"]


@dataclass
class EmulatorConfig:
    project_id: str
    public_key_pem: str
    data_dir: Path
    callback_url: str
    incoming_secret: str
    workflows: dict[str, str]  # workflow id -> "channels" | "users" | "messages"
    audience: str | None = None
    integration: str = "slack"


@dataclass
class _User:
    meta: dict[str, Any] = field(default_factory=dict)
    credential_status: str = "VALID"
    enabled: bool = True


@dataclass
class _Run:
    run_id: str
    workflow_id: str
    kind: str
    user: str
    params: dict[str, Any]
    status: str = "running"
    posts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    traceparent: str | None = None  # the trigger request's header, for tracing tests


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "status": status}, status_code=status)


def create_emulator(config: EmulatorConfig) -> Starlette:
    workspace = SlackWorkspace(config.data_dir)
    users: dict[str, _User] = {}
    runs: dict[str, _Run] = {}
    faults: list[tuple[int, str | None]] = []  # (status, retry-after) answered before real work
    background: set[asyncio.Task[None]] = set()
    callback = httpx.AsyncClient(base_url=config.callback_url.rstrip("/"), timeout=30.0)

    def authenticate(request: Request) -> str | JSONResponse:
        if request.path_params.get("project_id") != config.project_id:
            return _error(404, "project not found")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "missing Paragon User Token")
        try:
            claims = jwt.decode(
                token,
                config.public_key_pem,
                algorithms=["RS256"],
                audience=config.audience,
                options={"require": ["exp", "iat", "sub"], "verify_aud": bool(config.audience)},
            )
        except jwt.PyJWTError as exc:
            return _error(401, f"invalid Paragon User Token: {exc}")
        if int(claims["exp"]) - int(claims["iat"]) > 24 * 3600:
            return _error(401, "invalid Paragon User Token: lifetime too long")
        if faults:
            status, retry_after = faults.pop(0)
            response = _error(status, "injected fault")
            if retry_after is not None:
                response.headers["Retry-After"] = retry_after
            return response
        return str(claims["sub"])

    def user_json(sub: str) -> dict[str, Any]:
        user = users.setdefault(sub, _User())
        return {
            "userId": sub,
            "authenticated": True,
            "meta": user.meta,
            "integrations": {
                config.integration: {
                    "enabled": user.enabled,
                    "credentialStatus": user.credential_status,
                    "providerId": workspace.users["members"][0].get("team_id"),
                }
            },
        }

    async def me(request: Request) -> Response:
        sub = authenticate(request)
        if isinstance(sub, Response):
            return sub
        if request.method == "PATCH":
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "body is not JSON")
            if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
                return _error(400, 'body must be {"meta": {...}}')
            users.setdefault(sub, _User()).meta.update(body["meta"])
        return JSONResponse(user_json(sub))

    async def proxy(request: Request) -> Response:
        sub = authenticate(request)
        if isinstance(sub, Response):
            return sub
        if request.path_params["integration"] != config.integration:
            return _error(404, f"integration {request.path_params['integration']!r} not enabled")
        user = users.setdefault(sub, _User())
        if user.credential_status != "VALID":
            return _error(400, f"credential for {config.integration} is {user.credential_status}")
        path = request.path_params["path"]
        raw = request.headers.get("x-paragon-use-raw-response") == "1"
        if path.startswith("files-pri/"):
            file_id = path.split("/")[1].rsplit("-", 1)[-1]
            found = workspace.file_bytes(file_id)
            if found is None:
                return _error(404, "file not found")
            content, kind = found
            if not raw:
                return _error(400, "non-JSON answer; send X-Paragon-Use-Raw-Response: 1")
            return Response(content, media_type=kind,
                            headers={"x-slack-file-id": file_id})  # fmt: skip
        params: dict[str, str] = dict(request.query_params)
        if request.method in {"POST", "PUT", "PATCH"}:
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update({k: str(v) for k, v in body.items()})
        answer = workspace.call(path, params)
        if raw:
            return JSONResponse(answer, headers={"x-slack-req-id": uuid.uuid4().hex})
        return JSONResponse({"output": answer})

    async def post_back(run: _Run, route: str, body: dict[str, Any]) -> None:
        response = await callback.post(
            f"/v1/orgs/{run.user}/incoming/{route}",
            json=body,
            headers={INCOMING_SECRET_HEADER: org_incoming_secret(config.incoming_secret, run.user)},
        )
        run.posts.append({"route": route, "status": response.status_code})
        if response.status_code >= 400:
            raise RuntimeError(f"{route} answered {response.status_code}: {response.text[:200]}")

    def channel_messages(channel: str, oldest: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        window = {"channel": channel, "oldest": oldest, "limit": str(params.get("limit", 200)),
                  "inclusive": str(params.get("inclusive", True)).lower()}  # fmt: skip
        if params.get("latest"):
            window["latest"] = str(params["latest"])
        collected: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = workspace.call("conversations.history", {**window, "cursor": cursor})
            if not page.get("ok"):
                return collected
            for message in page["messages"]:
                collected.append(message)
                if message.get("reply_count"):
                    replies = workspace.call(
                        "conversations.replies",
                        {"channel": channel, "ts": message["ts"], "oldest": oldest,
                         "inclusive": "true", "limit": "1000"},
                    )  # fmt: skip
                    if replies.get("ok"):
                        collected.extend(r for r in replies["messages"] if r["ts"] != message["ts"])
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                return collected

    async def run_workflow(run: _Run) -> None:
        try:
            if run.kind == "channels":
                await post_back(
                    run, "channels", workspace.call("conversations.list", {"limit": "1000"})
                )
            elif run.kind == "users":
                await post_back(run, "users", workspace.call("users.list", {"limit": "1000"}))
            else:
                # Like a loosely built Paragon workflow, walk every channel the
                # user is in; the service must keep only the allowlisted ones.
                starts = run.params.get("channels") or {}
                for channel in workspace.member_channel_ids():
                    oldest = str(starts.get(channel, run.params.get("oldest", "0")))
                    Decimal(oldest)  # reject junk before posting anything
                    messages = channel_messages(channel, oldest, run.params)
                    body = {"ok": True, "channel": channel, "messages": messages}
                    await post_back(run, "messages", {**body, "has_more": False})
            run.status = "succeeded"
        except Exception as exc:
            run.status = "failed"
            run.error = repr(exc)

    async def trigger(request: Request) -> Response:
        sub = authenticate(request)
        if isinstance(sub, Response):
            return sub
        workflow_id = request.path_params["workflow_id"]
        kind = config.workflows.get(workflow_id)
        if kind is None:
            return _error(404, f"workflow {workflow_id} not found")
        try:
            params = await request.json() if await request.body() else {}
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(params, dict):
            return _error(400, "body must be a JSON object")
        run = _Run(uuid.uuid4().hex, workflow_id, kind, sub, params,
                   traceparent=request.headers.get("traceparent"))  # fmt: skip
        runs[run.run_id] = run
        task = asyncio.create_task(run_workflow(run))
        background.add(task)
        task.add_done_callback(background.discard)
        return JSONResponse({"success": True, "runId": run.run_id})

    async def control_credential(request: Request) -> Response:
        body = await request.json()
        user = users.setdefault(request.path_params["sub"], _User())
        user.credential_status = str(body.get("credential_status", user.credential_status))
        user.enabled = bool(body.get("enabled", user.enabled))
        return JSONResponse(user_json(request.path_params["sub"]))

    async def control_faults(request: Request) -> Response:
        body = await request.json()
        for _ in range(int(body.get("count", 1))):
            faults.append((int(body["status"]), body.get("retry_after")))
        return JSONResponse({"pending_faults": len(faults)})

    async def control_runs(request: Request) -> Response:
        return JSONResponse({"runs": [run.__dict__ for run in runs.values()]})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for task in list(background):
                task.cancel()
            await callback.aclose()

    prefix = "/projects/{project_id}/sdk"
    return Starlette(
        routes=[
            Route(f"{prefix}/me", me, methods=["GET", "PATCH"]),
            Route(
                f"{prefix}/proxy/{{integration}}/{{path:path}}",
                proxy,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
            Route(f"{prefix}/triggers/{{workflow_id}}", trigger, methods=["POST"]),
            Route("/_emulator/users/{sub}", control_credential, methods=["PUT"]),
            Route("/_emulator/faults", control_faults, methods=["POST"]),
            Route("/_emulator/runs", control_runs, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
