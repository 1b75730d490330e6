"""Shapes of Paragon answers and of our workflow-trigger parameters."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = ["IntegrationState", "ParagonUser", "ProxyResponse", "SyncWindow", "WindowBound"]

_BOUND = re.compile(r"^\d{1,12}(\.\d{1,6})?\Z")


class IntegrationState(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    enabled: bool = False
    credential_status: str | None = Field(default=None, alias="credentialStatus")
    provider_id: str | None = Field(default=None, alias="providerId")


class ParagonUser(BaseModel):
    """``GET /sdk/me``: the connected user, its metadata and integrations."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    user_id: str = Field(alias="userId")
    authenticated: bool = False
    meta: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, IntegrationState] = Field(default_factory=dict)

    def connection_status(self, integration: str) -> str:
        """``"VALID"``, ``"INVALID"``, ``"EXPIRED"`` or ``"NOT_CONNECTED"``."""
        state = self.integrations.get(integration)
        if state is None or not state.enabled:
            return "NOT_CONNECTED"
        return state.credential_status or "VALID"


class ProxyResponse(BaseModel):
    """A raw proxied answer (``X-Paragon-Use-Raw-Response: 1``): bytes plus provider headers."""

    status: int
    headers: dict[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _window_bound(value: str | None) -> str | None:
    if value is not None and not _BOUND.match(value):
        raise ValueError(f"must be a Slack timestamp such as 1700000000.000100, got {value!r}")
    return value


WindowBound = Annotated[str, AfterValidator(_window_bound)]


class SyncWindow(BaseModel):
    """The parameters of the "Get All Allowlisted Messages" workflow (Slack's names)."""

    oldest: WindowBound = "0"
    latest: WindowBound | None = None
    inclusive: bool = True
    limit: int = Field(default=200, ge=1, le=1000)
    include_all_metadata: bool = True

    @model_validator(mode="after")
    def _window_order(self) -> SyncWindow:
        if self.latest is not None and float(self.latest) < float(self.oldest):
            raise ValueError("latest must not be before oldest")
        return self
