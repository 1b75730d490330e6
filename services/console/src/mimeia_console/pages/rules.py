"""Rules (list, one rule's evaluations) and Events (search, one event's rule runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.clients.http import ServiceError
from mimeia_console.web import automation, int_param, pager, render

PAGE = 25
WINDOWS = {"": None, "15m": 15, "1h": 60, "24h": 24 * 60, "7d": 7 * 24 * 60}


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


async def event_list(request: Request) -> Response:
    event_type = request.query_params.get("event_type", "").strip()[:200]
    window = request.query_params.get("window", "")
    if window not in WINDOWS:
        raise HTTPException(400, f"window: one of {', '.join(k for k in WINDOWS if k)}")
    offset = int_param(request, "offset", 0)
    page = await automation(request).get(
        "/events", event_type=event_type or None, limit=PAGE, offset=offset
    )
    items = page.get("items", [])
    minutes = WINDOWS[window]
    cutoff_reached = False
    if minutes is not None:
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        kept = []
        for e in items:  # newest first: the page ends at the window's edge
            created = datetime.fromisoformat(str(e.get("created_at")).replace("Z", "+00:00"))
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            if created < since:
                cutoff_reached = True
                break
            kept.append(e)
        items = kept
    total = page.get("total") if minutes is None else None
    # past the window's edge there is nothing older to page to
    shown = len(items) if not cutoff_reached else min(len(items), PAGE - 1)
    shown_pager = pager(request, offset, PAGE, shown, total)
    return render(
        request,
        "events.html",
        events=items,
        event_type=event_type,
        window=window,
        windows=list(WINDOWS),
        pager=shown_pager,
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
