"""Rules (list, one rule's evaluations) and Events (search, one event's rule runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.clients.http import ServiceError
from mimeia_console.web import automation, int_param, pager, render

PAGE = 25
WINDOWS = {"15m": 15, "1h": 60, "24h": 24 * 60, "7d": 7 * 24 * 60}


def trigger_text(trigger: dict[str, Any]) -> str:
    if trigger.get("type") == "event":
        return f"event {trigger.get('event_type', '?')}"
    if trigger.get("type") == "schedule":
        return f"schedule {trigger.get('cron', '?')}"
    return str(trigger.get("type", "?"))


def flatten_conditions(results: list[Any], depth: int = 0) -> list[dict[str, Any]]:
    """Condition records (groups opened up) as rows: field, operator, expected, actual."""
    rows: list[dict[str, Any]] = []
    for r in results:
        if not isinstance(r, dict):
            continue
        if r.get("type") == "group":
            rows.append({"depth": depth, "group": r.get("logic", "and"), "passed": r.get("passed")})
            rows.extend(flatten_conditions(r.get("results", []), depth + 1))
        else:
            rows.append({**r, "depth": depth})
    return rows


async def rule_list(request: Request) -> Response:
    offset = int_param(request, "offset", 0)
    page = await automation(request).get("/automation/rules", limit=PAGE, offset=offset)
    items = page.get("items", [])
    for rule in items:
        rule["trigger_text"] = trigger_text(rule.get("trigger") or {})
    return render(
        request,
        "rules.html",
        rules=items,
        pager=pager(request, offset, PAGE, len(items), page.get("total")),
    )


async def rule_detail(request: Request) -> Response:
    api = automation(request)
    rid = request.path_params["rule_id"]
    matched = request.query_params.get("matched", "")
    if matched not in ("", "true", "false"):
        raise HTTPException(400, "matched: true, false or empty")
    offset = int_param(request, "offset", 0)
    rule = await api.get(f"/automation/rules/{rid}")
    rule["trigger_text"] = trigger_text(rule.get("trigger") or {})
    page = await api.get(
        f"/automation/rules/{rid}/executions", matched=matched or None, limit=PAGE, offset=offset
    )
    runs = page.get("items", [])
    for run in runs:
        run["rows"] = flatten_conditions(run.get("condition_results", []))
    return render(
        request,
        "rule.html",
        rule=rule,
        runs=runs,
        matched=matched,
        pager=pager(request, offset, PAGE, len(runs), page.get("total")),
    )


def quick_windows(event_type: str) -> list[tuple[str, str]]:
    """Links for the last 15 minutes .. 7 days, each a concrete ``since`` (so paging
    through one keeps the same range)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    links = []
    for label, minutes in WINDOWS.items():
        params = {"since": (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")}
        if event_type:
            params = {"event_type": event_type, **params}
        links.append((label, "?" + urlencode(params)))
    return links


async def event_list(request: Request) -> Response:
    """Events by type and time: the automation API filters (since <= created < until,
    UTC) and pages; a refused range shows the API's own text above the form."""
    query = request.query_params
    event_type = query.get("event_type", "").strip()[:200]
    since = query.get("since", "").strip()[:64]
    until = query.get("until", "").strip()[:64]
    offset = int_param(request, "offset", 0)
    items: list[dict[str, Any]] = []
    total: int | None = 0
    error, status = "", 200
    try:
        page = await automation(request).get(
            "/events",
            event_type=event_type or None,
            since=since or None,
            until=until or None,
            limit=PAGE,
            offset=offset,
        )
        items, total = page.get("items", []), page.get("total")
    except ServiceError as exc:
        if exc.status not in (400, 422):
            raise
        error, status = str(exc), exc.status
    return render(
        request,
        "events.html",
        http_status=status,
        events=items,
        event_type=event_type,
        since=since,
        until=until,
        error=error,
        quick=quick_windows(event_type),
        pager=pager(request, offset, PAGE, len(items), total),
    )


async def event_detail(request: Request) -> Response:
    api = automation(request)
    event = await api.get(f"/events/{request.path_params['event_id']}")
    runs = event.get("rule_executions", [])
    names: dict[str, str] = {}
    for run in runs:
        run["rows"] = flatten_conditions(run.get("condition_results", []))
        rid = str(run.get("rule_id"))
        if rid not in names and len(names) < 20:
            try:
                names[rid] = (await api.get(f"/automation/rules/{rid}")).get("name", rid)
            except ServiceError:  # a deleted rule still shows by id
                names[rid] = rid
    return render(request, "event.html", event=event, runs=runs, names=names)


ROUTES = [
    Route("/rules", rule_list, methods=["GET"]),
    Route("/rules/{rule_id}", rule_detail, methods=["GET"]),
    Route("/events", event_list, methods=["GET"]),
    Route("/events/{event_id}", event_detail, methods=["GET"]),
]
