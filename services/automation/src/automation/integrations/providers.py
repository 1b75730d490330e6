"""The provider registry: which outside services a tenant can configure, and which of
their fields are secrets. See the package docstring for how to add one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

_AIRTABLE_BASE = re.compile(r"app[A-Za-z0-9]{14}")


class NoSettings(BaseModel):
    """A provider whose only fields are secrets."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Provider:
    """One outside service.

    ``settings`` is the model of its non-secret fields (stored as JSON, returned by
    ``GET``); ``secrets`` the model of its secret fields (sealed at rest, never
    returned). Both forbid unknown fields; a field name lives in one model only.
    """

    name: str
    description: str
    secrets: type[BaseModel]
    settings: type[BaseModel] = NoSettings

    @property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(self.secrets.model_fields)

    @property
    def settings_fields(self) -> frozenset[str]:
        return frozenset(self.settings.model_fields)


PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Add ``provider`` to the registry (its name must be new)."""
    if provider.name in PROVIDERS:
        raise ValueError(f"integration provider {provider.name!r} is already registered")
    clash = provider.secret_fields & provider.settings_fields
    if clash:
        raise ValueError(f"{provider.name}: {sorted(clash)} both secret and not")
    PROVIDERS[provider.name] = provider
    return provider


def get_provider(name: str) -> Provider | None:
    return PROVIDERS.get(name)


# ---------------------------------------------------------------- built-in providers


class WompiSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events_secret: str = Field(
        min_length=8, max_length=200, description="the merchant's events secret from Wompi"
    )


class AirtableSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(
        min_length=8, max_length=500, description="a personal access token (pat...)"
    )


class AirtableSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_ids: list[str] = Field(
        min_length=1,
        max_length=200,
        description="the bases this tenant's steps may reach (app + 14 characters)",
    )

    @field_validator("base_ids")
    @classmethod
    def _bases(cls, value: list[str]) -> list[str]:
        for base in value:
            if not _AIRTABLE_BASE.fullmatch(base):
                raise ValueError(f"{base[:40]!r} is not an Airtable base id (app + 14 letters)")
        return sorted(set(value))


WOMPI = register(
    Provider("wompi", "Wompi payment events (the events secret)", secrets=WompiSecrets)
)
AIRTABLE = register(
    Provider(
        "airtable",
        "Airtable for the airtable step (API key and the bases it may reach)",
        secrets=AirtableSecrets,
        settings=AirtableSettings,
    )
)
