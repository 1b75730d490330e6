"""FlowMesh: streams (offsets, lag, recent messages, live tail), queues (stats, DLQ,
Replay), KV stores (prefix search), schemas and replay sessions."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mimeia_console.clients.flowmesh_reads import (
    MAX_PAGE_TOKEN,
    QueueInfo,
    StreamInfo,
    render_payload,
)
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import (
    back,
    checked_form,
    console,
    int_param,
    pager,
    render,
    tenant,
    token_pager,
    with_query,
)

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
T = TypeVar("T")
PAGE = 25
TAIL_POLL_SECONDS = 0.25
TAIL_MAX_SECONDS = 15 * 60


def _name(value: str, field: str) -> str:
    if not NAME.match(value):
        raise HTTPException(400, f"{field}: letters, digits, '_', '.', '-' (at most 128)")
    return value


def _names(request: Request, kind: str = "name") -> tuple[str, str]:
    return (
        _name(request.path_params["namespace"], "namespace"),
        _name(request.path_params[kind], kind),
    )


def _found(
    names: list[tuple[str, str]], answers: list[T | BaseException], kind: str, missing: list[str]
) -> list[tuple[str, str, T]]:
    """The answers read concurrently for a page's resources, with their names: one that
    no longer exists (404) goes to ``missing``; any other failure is raised."""
    out: list[tuple[str, str, T]] = []
    for (ns, name), answer in zip(names, answers, strict=True):
        if isinstance(answer, ServiceError) and answer.status == 404:
            missing.append(f"{kind} {ns}/{name}")
        elif isinstance(answer, BaseException):
            raise answer
        else:
            out.append((ns, name, answer))
    return out


async def overview(request: Request) -> Response:
    fm = console(request).fm
    t = tenant(request)
    errors: list[ServiceError] = []
    streams: list[StreamInfo] = []
    queues: list[QueueInfo] = []
    stores: list[tuple[str, str]] = []
    missing: list[str] = []
    tokens = {
        kind: request.query_params.get(f"{kind}_page", "")[:MAX_PAGE_TOKEN]
        for kind in ("streams", "queues", "kv")
    }
    pagers = {kind: Markup() for kind in ("streams", "queues", "kv")}
    try:
        names, token = await fm.names_page("stream", t, tokens["streams"], PAGE)
        pagers["streams"] = token_pager(request, "streams_page", tokens["streams"], token,
                                        len(names))  # fmt: skip
        infos = await asyncio.gather(
            *(fm.stream_info(t, ns, name) for ns, name in names), return_exceptions=True
        )
        streams = [info for _, _, info in _found(names, infos, "stream", missing)]
        names, token = await fm.names_page("queue", t, tokens["queues"], PAGE)
        pagers["queues"] = token_pager(request, "queues_page", tokens["queues"], token,
                                       len(names))  # fmt: skip
        stats = await asyncio.gather(
            *(fm.queue_stats(t, ns, name) for ns, name in names), return_exceptions=True
        )
        queues = [QueueInfo(*found) for found in _found(names, stats, "queue", missing)]
        stores, token = await fm.names_page("kv", t, tokens["kv"], PAGE)
        pagers["kv"] = token_pager(request, "kv_page", tokens["kv"], token, len(stores))
    except ServiceError as exc:
        errors.append(exc)
    return render(
        request,
        "flowmesh.html",
        streams=streams,
        queues=queues,
        stores=stores,
        errors=errors,
        missing=missing,
        pagers=pagers,
    )


async def open_by_name(request: Request) -> Response:
    """The 'open by name' form: any stream, queue or KV store of this tenant."""
    kind = request.query_params.get("kind", "")
    ns = _name(request.query_params.get("namespace", "").strip(), "namespace")
    name = _name(request.query_params.get("name", "").strip(), "name")
    if kind not in ("streams", "queues", "kv"):
        raise HTTPException(400, "kind: streams, queues or kv")
    return back(f"/flowmesh/{kind}/{ns}/{name}")


async def stream_page(request: Request) -> Response:
    fm = console(request).fm
    t = tenant(request)
    ns, name = _names(request)
    partition = int_param(request, "partition", 0, 0, 4096)
    before = request.query_params.get("before")
    before_offset = int_param(request, "before", 0) if before else None
    info = await fm.stream_info(t, ns, name)
    messages, latest = await fm.recent(t, ns, name, partition, before_offset)
    older = messages[-1].offset if messages and messages[-1].offset > 0 else None
    tail_url = with_query(f"/flowmesh/streams/{ns}/{name}/tail", partition=partition, after=latest)
    return render(
        request,
        "stream.html",
        info=info,
        ns=ns,
        name=name,
        partition=partition,
        messages=messages,
        latest=latest,
        older=older,
        tail_url=tail_url,
        newest=before_offset is None,
    )


async def stream_tail(request: Request) -> Response:
    """Server-sent events: each message written after ``after``, as it is written."""
    fm = console(request).fm
    t = tenant(request)
    ns, name = _names(request)
    partition = int_param(request, "partition", 0, 0, 4096)
    after = int_param(request, "after", -1, -1)

    async def events() -> AsyncIterator[str]:
        next_offset = after + 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TAIL_MAX_SECONDS
        quiet_since = loop.time()
        yield "retry: 2000\n\n"
        while loop.time() < deadline:
            if await request.is_disconnected():
                return
            try:
                batch = await fm.after(t, ns, name, partition, next_offset)
            except ServiceError as exc:
                yield sse(exc.detail, "problem")
                await asyncio.sleep(2)
                continue
            for message in batch:
                next_offset = message.offset + 1
                yield sse(json.dumps(message.as_json()))
            if batch:
                quiet_since = loop.time()
            else:
                if loop.time() - quiet_since > 10:
                    yield ": ping\n\n"  # keeps proxies from closing a quiet stream
                    quiet_since = loop.time()
                await asyncio.sleep(TAIL_POLL_SECONDS)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


def sse(data: str, event: str = "") -> str:
    """One server-sent event (a data line per line of ``data``)."""
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


async def stream_write(request: Request) -> Response:
    form = await checked_form(request)
    ns, name = _names(request)
    url = f"/flowmesh/streams/{ns}/{name}"
    payload = str(form.get("payload", ""))
    if not payload:
        return back(url, error="payload: required")
    try:
        offset = await console(request).fm.write(
            tenant(request), ns, name, payload.encode(), {"source": "console"}
        )
    except ServiceError as exc:
        return back(url, error=f"write refused: {exc.detail}")
    return back(url, ok=f"Written at offset {offset}")


def _refusal(refused: ServiceError | None, action: str) -> dict[str, Any]:
    """What a page shows after FlowMesh (or the console) refused one of its actions:
    FlowMesh's own words (the template escapes them), with the refusal's status."""
    if refused is None:
        return {}
    return {
        "flash_error": f"{action} refused: {refused.detail}",
        "flash_ok": "",
        "http_status": refused.page_status,
    }


async def queue_page(request: Request, refused: ServiceError | None = None) -> Response:
    fm = console(request).fm
    t = tenant(request)
    ns, name = _names(request)
    page_token = request.query_params.get("page", "")[:MAX_PAGE_TOKEN]
    stats = await fm.queue_stats(t, ns, name)
    try:
        dlq, next_token = await fm.dlq_page(t, ns, name, page_token, PAGE)
    except ServiceError as exc:
        if not page_token or exc.status != 400:
            raise
        # a token the server does not take (edited by hand): back to the first page
        return back(f"/flowmesh/queues/{ns}/{name}", error=f"page: {exc.detail}")
    shown = [(job, render_payload(job.payload)[0]) for job in dlq]
    return render(
        request, "queue.html", ns=ns, name=name, stats=stats, dlq=shown,
        dlq_pager=token_pager(request, "page", page_token, next_token, len(dlq)),
        **_refusal(refused, "replay"),
    )  # fmt: skip


async def dlq_replay(request: Request) -> Response:
    await checked_form(request)
    ns, name = _names(request)
    job_id = request.path_params["job_id"]
    url = f"/flowmesh/queues/{ns}/{name}"
    try:
        new_id = await console(request).fm.replay_dlq(tenant(request), ns, name, job_id)
    except ServiceError as exc:
        return await queue_page(request, refused=exc)
    return back(url, ok=f"Job {job_id} is back on the queue as {new_id}")


async def kv_page(request: Request) -> Response:
    fm = console(request).fm
    t = tenant(request)
    ns, store = _names(request)
    prefix = request.query_params.get("prefix", "")[:512]
    page_token = request.query_params.get("page", "")[:1024]
    key = request.query_params.get("key")
    try:
        keys, next_token = await fm.kv_page(t, ns, store, prefix, page_token)
    except ServiceError as exc:
        if not page_token or exc.status == 404:
            raise
        # a token the server no longer takes (edited by hand): back to the first page
        return back(with_query(f"/flowmesh/kv/{ns}/{store}", prefix=prefix),
                    error=f"page: {exc.detail}")  # fmt: skip
    value: str | None = None
    if key is not None:
        value = render_payload(await fm.kv_get(t, ns, store, key[:512]))[0]
    next_url = with_query("", prefix=prefix, page=next_token) if next_token else None
    first_url = with_query(request.url.path, prefix=prefix) if page_token else None
    return render(
        request,
        "kv.html",
        ns=ns,
        store=store,
        prefix=prefix,
        page_token=page_token,
        keys=keys,
        next_url=next_url,
        first_url=first_url,
        key=key,
        value=value,
    )


async def schemas_page(request: Request) -> Response:
    offset = int_param(request, "offset", 0)
    schemas = await console(request).fm.schemas(tenant(request))  # ListSchemas has no paging
    page = schemas[offset : offset + PAGE]
    shown = [(s, render_payload(s.definition)[0]) for s in page]
    return render(
        request, "schemas.html", schemas=shown,
        pager=pager(request, offset, PAGE, len(page), len(schemas)),
    )  # fmt: skip


async def replay_page(
    request: Request, refused: ServiceError | None = None, action: str = ""
) -> Response:
    offset = int_param(request, "offset", 0)
    sessions, total = await console(request).fm.replay_sessions_page(tenant(request), offset, PAGE)
    # a refusal is shown at the action's (POST) address: no self-refresh there
    running = refused is None and any(s.status in ("running", "active") for s in sessions)
    return render(
        request, "replay.html", sessions=sessions, running=running,
        pager=pager(request, offset, PAGE, len(sessions), total),
        **_refusal(refused, action),
    )  # fmt: skip


async def replay_control(request: Request) -> Response:
    await checked_form(request)
    session_id, action = request.path_params["session_id"], request.path_params["action"]
    try:
        await console(request).fm.replay_control(tenant(request), session_id, action)
    except ServiceError as exc:
        return await replay_page(request, refused=exc, action=action)
    return back("/flowmesh/replay", ok=f"Session {session_id[:8]}: {action} done")


async def replay_create(request: Request) -> Response:
    form = await checked_form(request)
    try:
        ns = _name(str(form.get("namespace", "")).strip(), "namespace")
        name = _name(str(form.get("stream", "")).strip(), "stream")
        group = str(form.get("group", "")).strip()
        start = int(str(form.get("start_offset", "0")) or 0)
        end_raw = str(form.get("end_offset", "")).strip()
        end = int(end_raw) if end_raw else None
    except ValueError:
        return back("/flowmesh/replay", error="start_offset, end_offset: whole numbers")
    except HTTPException as exc:
        return back("/flowmesh/replay", error=str(exc.detail))
    try:
        session = await console(request).fm.replay_create(
            tenant(request), ns, name, group, start, end
        )
    except ServiceError as exc:
        return await replay_page(request, refused=exc, action="create")
    return back("/flowmesh/replay", ok=f"Session {session.session_id} created")


ROUTES = [
    Route("/flowmesh", overview, methods=["GET"]),
    Route("/flowmesh/open", open_by_name, methods=["GET"]),
    Route("/flowmesh/streams/{namespace}/{name}", stream_page, methods=["GET"]),
    Route("/flowmesh/streams/{namespace}/{name}/tail", stream_tail, methods=["GET"]),
    Route("/flowmesh/streams/{namespace}/{name}/write", stream_write, methods=["POST"]),
    Route("/flowmesh/queues/{namespace}/{name}", queue_page, methods=["GET"]),
    Route("/flowmesh/queues/{namespace}/{name}/dlq/{job_id}/replay", dlq_replay, methods=["POST"]),
    Route("/flowmesh/kv/{namespace}/{name}", kv_page, methods=["GET"]),
    Route("/flowmesh/schemas", schemas_page, methods=["GET"]),
    Route("/flowmesh/replay", replay_page, methods=["GET"]),
    Route("/flowmesh/replay", replay_create, methods=["POST"]),
    Route("/flowmesh/replay/{session_id}/{action}", replay_control, methods=["POST"]),
]
