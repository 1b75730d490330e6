"""Service settings: environment variables first, then ``op.env`` at the service root.

``op.env`` holds the variables 1Password maps for us (``op run --env-file``
style, ``KEY=value`` lines). Every variable is prefixed ``SLACK_CONNECT_``::

    SLACK_CONNECT_PARAGON_PROJECT_ID=24a3dcf7-...
    SLACK_CONNECT_PARAGON_SIGNING_KEY_FILE=/run/secrets/paragon.pem
    SLACK_CONNECT_INCOMING_SECRET=...
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from slack_connect.store import parse_store_url

__all__ = ["SERVICE_ROOT", "Settings"]

# services/slack_connect/, where op.env lives.
SERVICE_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SLACK_CONNECT_",
        env_file=SERVICE_ROOT / "op.env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Paragon
    paragon_project_id: str = Field(min_length=1)
    paragon_api_base: str = "https://api.useparagon.com"
    paragon_trigger_base: str = "https://zeus.useparagon.com"
    paragon_integration: str = "slack"
    paragon_signing_key: SecretStr | None = None
    paragon_signing_key_file: Path | None = None
    paragon_audience: str | None = None
    paragon_timeout: float = Field(default=30.0, gt=0)
    workflow_channels: str | None = None
    workflow_users: str | None = None
    workflow_messages: str = Field(min_length=1)

    # Who may call us
    incoming_secret: SecretStr = Field(min_length=16)
    admin_token: SecretStr = Field(min_length=16)

    # Where data goes and where sync state lives
    mesh_url: str = "http://127.0.0.1:8675"
    mesh_token: SecretStr | None = None
    mesh_module: str = "slack"
    # sqlite:///path.db (embedded) or redis://host:port/db (shared by replicas).
    # Unset: ``redis_url``, the setting this service had before ``store_url``.
    store_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "slack_connect"

    # Sync
    sync_overlap_seconds: float = Field(default=60.0, ge=0)
    sync_page_limit: int = Field(default=200, ge=1, le=1000)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)

    @field_validator("store_url", "redis_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_store_url(value)
        return value

    @property
    def sync_store_url(self) -> str:
        """Where sync state lives: ``store_url``, else the older ``redis_url``."""
        return self.store_url if self.store_url is not None else self.redis_url

    @model_validator(mode="after")
    def _one_signing_key(self) -> Settings:
        if (self.paragon_signing_key is None) == (self.paragon_signing_key_file is None):
            raise ValueError(
                "set exactly one of SLACK_CONNECT_PARAGON_SIGNING_KEY or "
                "SLACK_CONNECT_PARAGON_SIGNING_KEY_FILE"
            )
        return self

    @cached_property
    def signing_key_pem(self) -> str:
        if self.paragon_signing_key is not None:
            return self.paragon_signing_key.get_secret_value()
        assert self.paragon_signing_key_file is not None
        return self.paragon_signing_key_file.read_text()
