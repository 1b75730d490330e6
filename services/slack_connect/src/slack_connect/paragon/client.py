"""Async Paragon client: Proxy (Connect) API, Users API and workflow triggers.

Every call signs (or reuses) the user's RS256 token, has a timeout, and is
retried by :class:`common_core.retry.RetryPolicy` (backoff, ``Retry-After``):
a ``POST``/``PATCH`` (a Slack message sent through the proxy) is re-sent only
when it provably never reached Paragon (connection refused, DNS) or was
rejected with 429, never after a read timeout or a 5xx. Failures raise the typed errors of
:mod:`slack_connect.paragon.errors`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from common_core.retry import RetryPolicy
from common_core.retry_httpx import maybe_sent
from mimeia_telemetry.httpx import async_transport
from slack_connect.paragon.errors import (
    ParagonAuthError,
    ParagonCredentialInvalid,
    ParagonError,
    ParagonNotFound,
    ParagonOutcomeUnknown,
    ParagonRateLimited,
    ParagonServerError,
    ParagonUnavailable,
)
from slack_connect.paragon.models import ParagonUser, ProxyResponse, SyncWindow
from slack_connect.paragon.tokens import UserTokenSigner

__all__ = ["RAW_RESPONSE_HEADER", "ParagonClient"]

RAW_RESPONSE_HEADER = "X-Paragon-Use-Raw-Response"
# Headers the provider sent that mean nothing once the body is in our hands.
_HOP_HEADERS = frozenset({"connection", "transfer-encoding", "keep-alive", "content-length"})


def _error_for(status: int, detail: str, attempts: int, what: str) -> ParagonError:
    message = f"paragon {what} failed with HTTP {status}: {detail}"
    kind: type[ParagonError]
    if status in (401, 403):
        kind = ParagonAuthError
    elif status == 404:
        kind = ParagonNotFound
    elif status == 429:
        kind = ParagonRateLimited
    elif status >= 500:
        kind = ParagonServerError
    else:
        kind = ParagonError
    return kind(message, status=status, detail=detail, attempts=attempts)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if key in body:
                return str(body[key])
    return json.dumps(body)[:300]


def _provider_headers(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}


def unwrap_output(body: Any) -> Any:
    """Paragon wraps a provider's JSON answer as ``{"output": ...}``; return the inside."""
    if isinstance(body, dict) and set(body) == {"output"}:
        return body["output"]
    return body


class ParagonClient:
    """One Paragon project; the ``user_id`` of each call is the token's ``sub``."""

    def __init__(
        self,
        project_id: str,
        signer: UserTokenSigner,
        *,
        api_base: str = "https://api.useparagon.com",
        trigger_base: str = "https://zeus.useparagon.com",
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if not project_id or "/" in project_id:
            raise ValueError(f"project_id must be a non-empty id without '/', got {project_id!r}")
        for name, url in (("api_base", api_base), ("trigger_base", trigger_base)):
            parsed = httpx.URL(url)
            if parsed.scheme not in {"http", "https"} or not parsed.host:
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
        self.project_id = project_id
        self.signer = signer
        self.api_base = api_base.rstrip("/")
        self.trigger_base = trigger_base.rstrip("/")
        self.retry = retry or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=async_transport(),  # client spans + traceparent when tracing is on
        )

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> ParagonClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the three APIs -------------------------------------------------

    async def proxy(
        self,
        user_id: str,
        integration: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        raw: bool = False,
    ) -> Any:
        """Call the provider's API through Paragon's proxy.

        Returns the provider's JSON (``output`` unwrapped), or with ``raw=True``
        a :class:`ProxyResponse` holding the bytes and the provider's headers
        (files, images, anything that is not JSON).
        """
        if not integration or "/" in integration:
            raise ValueError(f"integration must be a name without '/', got {integration!r}")
        clean = "/".join(quote(part, safe="._-~") for part in path.strip("/").split("/") if part)
        if not clean or ".." in path.split("/"):
            raise ValueError(f"path must be a relative API path, got {path!r}")
        url = f"{self.api_base}/projects/{self.project_id}/sdk/proxy/{integration}/{clean}"
        headers = {RAW_RESPONSE_HEADER: "1"} if raw else {}
        response = await self._send(user_id, method.upper(), url, json_body=json_body,
                                    params=params, headers=headers, what="proxy")  # fmt: skip
        if raw:
            return ProxyResponse(
                status=response.status_code,
                headers=_provider_headers(response.headers),
                content=response.content,
            )
        if not response.content:
            return None
        try:
            return unwrap_output(response.json())
        except ValueError as exc:
            raise ParagonError(
                "paragon proxy answered with a body that is not JSON; use raw=True",
                status=response.status_code, detail=response.text[:200],
            ) from exc  # fmt: skip

    async def get_user(self, user_id: str) -> ParagonUser:
        """``GET /sdk/me``: metadata and the state of each integration."""
        url = f"{self.api_base}/projects/{self.project_id}/sdk/me"
        response = await self._send(user_id, "GET", url, what="get user")
        return ParagonUser.model_validate(response.json())

    async def set_user_meta(self, user_id: str, meta: Mapping[str, Any]) -> ParagonUser:
        """``PATCH /sdk/me`` with ``{"meta": meta}``; returns the updated user."""
        if not isinstance(meta, Mapping):
            raise TypeError("meta must be a mapping")
        url = f"{self.api_base}/projects/{self.project_id}/sdk/me"
        response = await self._send(user_id, "PATCH", url, json_body={"meta": dict(meta)},
                                    what="set user metadata")  # fmt: skip
        return ParagonUser.model_validate(response.json())

    async def require_connection(self, user_id: str, integration: str) -> ParagonUser:
        """The user, or :class:`ParagonCredentialInvalid` when its credential is not VALID."""
        user = await self.get_user(user_id)
        status = user.connection_status(integration)
        if status != "VALID":
            raise ParagonCredentialInvalid(integration, status)
        return user

    async def trigger_workflow(
        self,
        user_id: str,
        workflow_id: str,
        window: SyncWindow | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """``POST /projects/<id>/sdk/triggers/<workflow id>`` on the trigger host."""
        if not workflow_id or "/" in workflow_id:
            raise ValueError(f"workflow_id must be an id without '/', got {workflow_id!r}")
        body: dict[str, Any] = dict(extra or {})
        if window is not None:
            body.update(window.model_dump(exclude_none=True))
        url = f"{self.trigger_base}/projects/{self.project_id}/sdk/triggers/{workflow_id}"
        response = await self._send(user_id, "POST", url, json_body=body, what="trigger")
        return unwrap_output(response.json()) if response.content else None

    # -- transport ------------------------------------------------------

    async def _send(
        self,
        user_id: str,
        method: str,
        url: str,
        *,
        what: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        retrying = self.retry.start(method, headers)
        while True:
            request_headers = {
                "Authorization": f"Bearer {self.signer.token_for(user_id)}",
                "Accept": "application/json",
                **(headers or {}),
            }
            try:
                response = await self._http.request(
                    method, url, json=json_body, params=params, headers=request_headers
                )
            except httpx.TransportError as exc:
                decision = retrying.after_transport_error(maybe_sent=maybe_sent(exc))
                if decision.retry:
                    await asyncio.sleep(decision.delay)
                    continue
                if decision.outcome_unknown:
                    raise ParagonOutcomeUnknown(
                        f"paragon {what} {method} got no answer and may have been applied; "
                        f"it was not re-sent to avoid a duplicate: {exc!r}",
                        detail=repr(exc), attempts=retrying.attempts,
                    ) from exc  # fmt: skip
                raise ParagonUnavailable(
                    f"paragon {what} unreachable after {retrying.attempts} attempts: {exc!r}",
                    detail=repr(exc), attempts=retrying.attempts,
                ) from exc  # fmt: skip
            if response.is_success:
                return response
            decision = retrying.after_response(response.status_code, response.headers)
            if decision.retry:
                await asyncio.sleep(decision.delay)
                continue
            raise _error_for(response.status_code, _detail(response), retrying.attempts, what)
