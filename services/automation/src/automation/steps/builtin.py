"""The built-in types: HTTP requests, data transforms, conditions and delays."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from automation import templating
from automation.netguard import AddressPolicy, GuardedTransport
from automation.registry import ActionContext, ActionError, ActionType

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
MAX_RESPONSE_BYTES = 1_000_000
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _check_http(config: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    url = config.get("url")
    if not isinstance(url, str) or not url:
        problems.append("config.url: required (a string)")
    elif "{{" not in url and urlsplit(url).scheme not in ("http", "https"):
        problems.append("config.url: must be an http:// or https:// URL")
    method = config.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        problems.append(f"config.method: must be one of {', '.join(sorted(HTTP_METHODS))}")
    headers = config.get("headers", {})
    if not isinstance(headers, dict):
        problems.append("config.headers: must be an object")
    timeout = config.get("timeout_seconds", 30)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 300:
        problems.append("config.timeout_seconds: must be a number in (0, 300]")
    return problems


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the (decoded) body, read as it streams in: a
    response larger than that is cut there and never held whole."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)


async def http_request(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    url = str(config["url"])
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionError(f"config.url: {url[:100]!r} is not an http(s) URL")
    # the guard resolves the name at connect time and checks every address it gets
    policy = AddressPolicy.from_setting(
        ctx.settings.http_step_allowed_hosts, setting="HTTP_STEP_ALLOWED_HOSTS"
    )
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    # The same on every attempt of this step of this run (retries, and a re-run
    # after a worker died), so the receiver can tell a repeat from a new request.
    if not any(k.lower() == IDEMPOTENCY_HEADER.lower() for k in headers):
        headers[IDEMPOTENCY_HEADER] = ctx.idempotency_key
    timeout = float(config.get("timeout_seconds", ctx.settings.http_step_timeout_seconds))
    request_kwargs: dict[str, Any] = {"headers": headers, "params": config.get("params")}
    if "json" in config:
        request_kwargs["json"] = config["json"]
    elif "body" in config:
        body = config["body"]
        request_kwargs["content"] = body if isinstance(body, str) else json.dumps(body)
    transport = GuardedTransport(policy, max_connections=1, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False
    ) as client:
        try:
            request = client.build_request(
                str(config.get("method", "GET")).upper(), url, **request_kwargs
            )
            response = await client.send(request, stream=True)
            try:
                raw = await _read_capped(response, MAX_RESPONSE_BYTES)
            finally:
                await response.aclose()  # the rest is never read
        except httpx.TimeoutException:
            raise ActionError(f"request to {parts.hostname} timed out after {timeout}s") from None
        except httpx.HTTPError as exc:
            raise ActionError(f"request to {parts.hostname} failed: {exc}") from None
    body_out: Any
    try:
        body_out = json.loads(raw) if raw else None
    except ValueError:
        body_out = raw.decode("utf-8", "replace")
    result = {
        "status_code": response.status_code,
        "headers": dict(response.headers),
        "body": body_out,
    }
    if response.status_code >= 400 and config.get("fail_on_status", True):
        snippet = raw[:200].decode("utf-8", "replace")
        raise ActionError(f"HTTP {response.status_code} from {parts.hostname}: {snippet}")
    return result


def _check_transform(config: dict[str, Any]) -> list[str]:
    problems = []
    if "output" not in config:
        problems.append("config.output: required (the value to produce; templates allowed)")
    required = config.get("require", [])
    if not isinstance(required, list) or not all(isinstance(p, str) for p in required):
        problems.append("config.require: must be a list of dotted paths")
    return problems


def lookup(data: Any, path: str) -> tuple[bool, Any]:
    """Follow a dotted path (``user.address.city``, ``items.0``) into dicts and lists."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return False, None
            current = current[index]
        else:
            return False, None
    return True, current


async def data_transform(ctx: ActionContext, config: dict[str, Any]) -> Any:
    missing = [p for p in config.get("require", []) if not lookup(ctx.scope, p)[0]]
    if missing:
        raise ActionError(f"required data missing: {', '.join(missing)}")
    return config["output"]


def _check_condition(config: dict[str, Any]) -> list[str]:
    problems = templating.expression_problems(config.get("expression"), "config.expression")
    for key in ("then", "else"):
        value = config.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"config.{key}: must be a list of step ids")
    return problems


async def condition(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    try:
        result = await templating.evaluate_async(
            config["expression"], ctx.scope, "config.expression"
        )
    except templating.TemplateError as exc:
        raise ActionError(str(exc)) from None
    return {"result": result, "branch": "then" if result else "else"}


def _check_delay(config: dict[str, Any]) -> list[str]:
    seconds, until = config.get("seconds"), config.get("until")
    if (seconds is None) == (until is None):
        return ["config: give exactly one of 'seconds' or 'until'"]
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float | str)
    ):
        return ["config.seconds: must be a number of seconds"]
    if isinstance(seconds, int | float) and not 0 <= seconds <= 366 * 86400:
        return ["config.seconds: must be between 0 and one year"]
    if until is not None and not isinstance(until, str):
        return ["config.until: must be an ISO 8601 timestamp"]
    return []


def delay_seconds(config: dict[str, Any], now: datetime) -> float:
    """How long a rendered delay config waits from ``now``."""
    if config.get("until") is not None:
        try:
            until = datetime.fromisoformat(str(config["until"]))
        except ValueError:
            raise ActionError(f"config.until: {config['until']!r} is not ISO 8601") from None
        if until.tzinfo is None:
            raise ActionError("config.until: needs a timezone (e.g. 2030-01-01T00:00:00Z)")
        return max(0.0, (until - now).total_seconds())
    try:
        seconds = float(config["seconds"])
    except (TypeError, ValueError):
        raise ActionError(f"config.seconds: {config['seconds']!r} is not a number") from None
    if not 0 <= seconds <= 366 * 86400:
        raise ActionError("config.seconds: must be between 0 and one year")
    return seconds


async def delay(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    # The engine holds a delay step in the database until it is due and only
    # then calls this, so a delay never occupies a worker.
    return {"waited": True}


HTTP_REQUEST = ActionType(
    "http_request", http_request, _check_http, "Call an HTTP endpoint (SSRF-guarded)"
)
DATA_TRANSFORM = ActionType(
    "data_transform",
    data_transform,
    _check_transform,
    "Produce data from templates",
    side_effects=False,
)
CONDITION = ActionType(
    "condition",
    condition,
    _check_condition,
    "Choose a branch: steps in the other branch are skipped",
    render_config=False,
    usable_as=frozenset({"step"}),
    side_effects=False,
)
BRANCH = replace(CONDITION, name="branch", description="Alias of condition")
DELAY = ActionType(
    "delay",
    delay,
    _check_delay,
    "Wait without holding a worker (seconds, or until a time)",
    usable_as=frozenset({"step"}),
)

# The built-in step types, registered through the entry point group
# ``automation.action_types`` (services/automation/pyproject.toml).
BUILTIN_STEP_TYPES = [HTTP_REQUEST, DATA_TRANSFORM, CONDITION, BRANCH, DELAY]
