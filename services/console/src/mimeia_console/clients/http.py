"""One error type for every service the console calls over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


class ServiceError(Exception):
    """A service refused or failed a call; ``detail`` is its own error text."""

    def __init__(self, service: str, status: int, detail: str) -> None:
        super().__init__(
            f"{service}: {detail} (HTTP {status})" if status else f"{service}: {detail}"
        )
        self.service = service
        self.status = status
        self.detail = detail

    @property
    def page_status(self) -> int:
        """The status of a page showing this refusal: the service's own when it is a
        refusal (bad input, not signed in, not allowed, missing, conflict), else 502."""
        return self.status if self.status in (400, 401, 403, 404, 409, 422) else 502


def error_text(response: httpx.Response) -> str:
    """The API's own message: FastAPI's ``detail`` (with field problems), else the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail", body.get("message", body))
        problems = body.get("problems")
        if isinstance(detail, list):  # FastAPI's own validation list
            detail = "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
                for d in detail
                if isinstance(d, dict)
            )
        text = str(detail)
        if isinstance(problems, list) and problems:
            text += ": " + "; ".join(
                f"{p.get('field')}: {p.get('message')}" for p in problems if isinstance(p, dict)
            )
        return text[:1000]
    return str(body)[:500]


async def call(
    client: httpx.AsyncClient, service: str, method: str, url: str, **kwargs: Any
) -> Any:
    """Send one request; the decoded JSON (None for an empty body) or ServiceError."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise ServiceError(service, 0, "did not answer in time") from None
    except httpx.HTTPError as exc:
        raise ServiceError(service, 0, f"cannot be reached ({type(exc).__name__})") from None
    if response.status_code >= 400:
        raise ServiceError(service, response.status_code, error_text(response))
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
