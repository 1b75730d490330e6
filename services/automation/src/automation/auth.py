"""Who is calling, for which tenant, with which scopes.

Users send ``Authorization: Bearer <JWT>`` (HS256, signed with JWT_SECRET_KEY,
claims ``sub``, ``exp``, ``tenant`` and ``scopes``). Other services send
``X-Internal-API-Key`` (compared in constant time with INTERNAL_API_KEY) and act
for the tenant named in ``X-Tenant-ID`` with every scope.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status

from automation.settings import Settings

# \Z, not $: "$" also matches before a final newline, so "tenantA\n" would pass as
# a different tenant from "tenantA" (issue 14.13). Checked with fullmatch.
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
ALL_SCOPES = "*"

SCOPES = {
    "workflows:read": "list and read workflows and executions",
    "workflows:write": "create, change and delete workflows",
    "workflows:execute": "run, cancel and re-run workflows",
    "rules:read": "list and read automation rules and their executions",
    "rules:write": "create, change and delete automation rules",
    "events:write": "submit events",
    "events:read": "read submitted events",
    "integrations:write": "configure integrations (Wompi, Airtable credentials)",
    # delivery part of the service
    "webhooks:read": "list and read webhook endpoints, messages and attempts",
    "webhooks:write": "manage webhook endpoints, send and replay webhooks",
    "notifications:read": "list and read notification templates and notifications",
    "notifications:write": "create, change and delete notification templates",
    "notifications:send": "send email and SMS notifications",
}


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str]
    kind: str  # "user" or "service"

    def has(self, scope: str) -> bool:
        return ALL_SCOPES in self.scopes or scope in self.scopes


def create_token(
    secret: str,
    subject: str,
    tenant: str,
    scopes: Iterable[str] = (),
    expires_in: float = 3600,
) -> str:
    """A signed user token (for tools and tests; the service only verifies them)."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "tenant": tenant,
        "scopes": list(scopes),
        "iat": now,
        "exp": now + int(expires_in),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def valid_tenant_id(value: object) -> bool:
    """True for a well-formed tenant id (the whole string, no trailing newline)."""
    return isinstance(value, str) and TENANT_ID.fullmatch(value) is not None


def _valid_tenant(value: object, where: str) -> str:
    if not isinstance(value, str) or not valid_tenant_id(value):
        raise _unauthorized(f"{where}: must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def principal_from_headers(request: Request, settings: Settings) -> Principal:
    key = request.headers.get("x-internal-api-key")
    if key is not None:
        expected = settings.effective_internal_api_key
        if not hmac.compare_digest(key.encode(), expected.encode()):
            raise _unauthorized("X-Internal-API-Key: not valid")
        tenant = request.headers.get("x-tenant-id")
        if tenant is None:
            raise _unauthorized("X-Tenant-ID: required with X-Internal-API-Key")
        return Principal(
            _valid_tenant(tenant, "X-Tenant-ID"), "internal", frozenset({"*"}), "service"
        )

    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("Authorization: a Bearer token or X-Internal-API-Key is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization: expected 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.effective_jwt_secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token: expired") from None
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"token: not valid ({exc})") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _unauthorized("token: claim 'sub' must be a non-empty string")
    tenant_id = _valid_tenant(claims.get("tenant"), "token claim 'tenant'")
    raw_scopes = claims.get("scopes", [])
    if isinstance(raw_scopes, str):
        raw_scopes = raw_scopes.split()
    if not isinstance(raw_scopes, list) or not all(isinstance(s, str) for s in raw_scopes):
        raise _unauthorized("token: claim 'scopes' must be a list of strings")
    return Principal(tenant_id, subject, frozenset(raw_scopes), "user")


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold ``scope``."""

    async def dependency(request: Request) -> Principal:
        services = request.app.state.services
        principal = principal_from_headers(request, services.settings)
        if not principal.has(scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"scope {scope!r} required")
        await services.tenants.ensure(principal.tenant_id)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


# Route parameters: ``principal: WorkflowsRead`` authenticates and checks the scope.
# Other parts of the service declare theirs the same way, e.g.
# ``WebhooksWrite = Annotated[Principal, Depends(require("webhooks:write"))]``.
WorkflowsRead = Annotated[Principal, Depends(require("workflows:read"))]
WorkflowsWrite = Annotated[Principal, Depends(require("workflows:write"))]
WorkflowsExecute = Annotated[Principal, Depends(require("workflows:execute"))]
RulesRead = Annotated[Principal, Depends(require("rules:read"))]
RulesWrite = Annotated[Principal, Depends(require("rules:write"))]
EventsRead = Annotated[Principal, Depends(require("events:read"))]
EventsWrite = Annotated[Principal, Depends(require("events:write"))]
IntegrationsWrite = Annotated[Principal, Depends(require("integrations:write"))]
