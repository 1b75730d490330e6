"""``/integrations/{provider}/settings``: a tenant's credentials for one provider.

``PUT`` sets them (secret fields omitted keep their stored value), ``GET`` shows the
non-secret fields and which secret fields are set (never their values), ``DELETE``
forgets them. Scope ``integrations:write`` for all three: reading what is set is
part of configuring it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import IntegrationsWrite
from automation.integrations import store
from automation.integrations.models import IntegrationCredential
from automation.integrations.providers import PROVIDERS, Provider, get_provider
from automation.routers.common import session_dependency

router = APIRouter(prefix="/integrations", tags=["integrations"])

Session = Annotated[AsyncSession, Depends(session_dependency)]


class IntegrationOut(BaseModel):
    provider: str
    settings: dict[str, Any]
    # names of the secret fields that are set; their values are never returned
    secrets_set: list[str]
    created_at: datetime
    updated_at: datetime


def _problems(errors: list[dict[str, Any]]) -> RequestValidationError:
    """The API's usual 422 (``{"detail": "validation failed", "problems": [...]}``)."""
    return RequestValidationError([{**err, "loc": ("body", *err.get("loc", ()))} for err in errors])


def _provider(name: str) -> Provider:
    provider = get_provider(name)
    if provider is None:
        raise HTTPException(404, detail=f"provider: unknown, one of {', '.join(sorted(PROVIDERS))}")
    return provider


@router.put("/{provider}/settings", status_code=204)
async def put_integration(
    provider: str,
    session: Session,
    principal: IntegrationsWrite,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    spec = _provider(provider)
    unknown = sorted(set(body) - spec.secret_fields - spec.settings_fields)
    if unknown:
        raise _problems(
            [{"loc": (f,), "msg": "not a field of this provider", "type": "extra_forbidden"}
             for f in unknown]
        )  # fmt: skip
    stored = await store.load(session, principal.tenant_id, provider)
    given_secrets = {k: v for k, v in body.items() if k in spec.secret_fields}
    try:
        settings = spec.settings.model_validate(
            {k: v for k, v in body.items() if k in spec.settings_fields}
        )
        kept = stored.secrets if stored else {}
        secrets = spec.secrets.model_validate({**kept, **given_secrets})
    except ValidationError as exc:
        raise _problems([dict(e) for e in exc.errors()]) from None
    await store.save(
        session,
        principal.tenant_id,
        provider,
        settings.model_dump(mode="json"),
        secrets.model_dump(mode="json"),
    )
    return Response(status_code=204)


@router.get("/{provider}/settings", response_model=IntegrationOut)
async def get_integration(
    provider: str, session: Session, principal: IntegrationsWrite
) -> IntegrationOut:
    _provider(provider)
    row = await store.row(session, principal.tenant_id, provider)
    if row is None:
        raise HTTPException(404, detail=f"{provider}: not configured for this tenant")
    return _out(row)


def _out(row: IntegrationCredential) -> IntegrationOut:
    return IntegrationOut(
        provider=row.provider,
        settings=row.settings,
        secrets_set=sorted(store.secret_names(row)),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.delete("/{provider}/settings", status_code=204)
async def delete_integration(
    provider: str, session: Session, principal: IntegrationsWrite
) -> Response:
    _provider(provider)
    if not await store.remove(session, principal.tenant_id, provider):
        raise HTTPException(404, detail=f"{provider}: not configured for this tenant")
    return Response(status_code=204)
