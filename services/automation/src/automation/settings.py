"""Service configuration, read from the environment (names as the seed documents them).

Development and the embedded mode (``mimeia up``) run with no outside servers:
SQLite for data, a SQLite-backed Celery transport and in-memory rate limits.
Production (``ENV=production``) refuses to start without its secrets and servers.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STATE_DIR = Path.home() / ".local" / "state" / "mimeia" / "automation"


class ConfigurationError(RuntimeError):
    """The settings cannot run the service; the message is one line naming what is wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # core
    env: Literal["development", "production", "test"] = "development"
    host: str = "0.0.0.0"  # noqa: S104  (a server binds every interface by default, as the seed says)
    port: int = Field(default=8090, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    reload: bool = False
    service_name: str = "automation-service"
    state_dir: Path = DEFAULT_STATE_DIR

    # database
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=20, ge=0)

    # redis (rate limits and health in production)
    redis_url: str = ""
    redis_password: str | None = None
    redis_max_connections: int = Field(default=20, ge=1)

    # celery
    celery_broker_url: str = ""
    celery_result_backend: str = ""
    celery_task_time_limit: int = Field(default=1800, ge=1)
    celery_visibility_timeout: int = Field(default=3600, ge=10)
    celery_task_always_eager: bool = False
    # Celery's monitoring events (Flower): three broker messages per task, so off
    # unless asked for; /metrics carries task counts and latency either way.
    celery_task_events: bool = False
    # Prefix for the broker's Redis keys (several deployments or test runs on one Redis).
    celery_key_prefix: str = ""

    # security
    internal_api_key: str = ""
    jwt_secret_key: str = ""
    jwt_algorithm: Literal["HS256"] = "HS256"
    webhook_secret_key: str = ""
    # Seals secrets at rest (automation.secretbox): comma-separated keys, the first
    # seals, all open. Generated into the state directory outside production.
    secrets_key: str = Field(default="", repr=False)

    # notifications (used by the delivery part of the service)
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = True

    # every request body, any route or content type, is refused past this many bytes
    max_request_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)

    # /metrics: database gauges are reused this long; a token makes the route need
    # "Authorization: Bearer <METRICS_TOKEN>"
    metrics_cache_seconds: float = Field(default=15.0, ge=0)
    metrics_token: str = ""

    # rate limiting ("<n>/<period>" as the `limits` library parses it)
    rate_limit: str = "1200/minute"
    rate_limit_storage_url: str = ""

    # connectors used by the airtable and flowmesh_publish types; credentials are
    # per tenant (automation.integrations), only the API address is service-wide
    airtable_api_url: str | None = None
    whatsapp_api_url: str | None = None  # Meta's Graph API unless set (an emulator)
    # Wompi events signed longer ago than this are refused (Wompi retries for ~27 h).
    wompi_max_event_age_seconds: float = Field(default=2 * 86400, gt=0)
    flowmesh_url: str = ""  # host:port of the FlowMesh gRPC server
    flowmesh_token: str | None = None

    # workflow engine
    # A worker holds a running execution through a lease this long, renewed by a
    # heartbeat every third of it, so a dead worker's runs resume within about
    # one lease plus one scheduler tick.
    execution_lease_seconds: float = Field(default=10.0, gt=0)
    # How long a run waits for a lost database to answer again before it hands the
    # execution back (it is never failed for that; it resumes from its last step).
    database_outage_seconds: float = Field(default=60.0, gt=0)
    scheduler_interval_seconds: float = Field(default=5.0, gt=0)
    # Waits shorter than this ride on a broker countdown; longer ones wait in the database.
    max_countdown_seconds: float = Field(default=300.0, ge=0)
    http_step_timeout_seconds: float = Field(default=30.0, gt=0)
    http_step_allowed_hosts: str = ""

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.env != "production":
            return self
        missing = [
            name.upper()
            for name in (
                "database_url",
                "redis_url",
                "celery_broker_url",
                "internal_api_key",
                "jwt_secret_key",
                "webhook_secret_key",
                "secrets_key",
            )
            if not getattr(self, name)
        ]
        if missing:
            raise ConfigurationError(
                f"ENV=production needs these environment variables set: {', '.join(missing)}"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @cached_property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL: DATABASE_URL with its async driver, or a local SQLite file."""
        if not self.database_url:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite+aiosqlite:///{self.state_dir / 'automation.db'}"
        return async_database_url(self.database_url)

    @cached_property
    def effective_broker_url(self) -> str:
        if self.celery_broker_url:
            return self.celery_broker_url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return f"sqla+sqlite:///{self.state_dir / 'broker.db'}"

    @cached_property
    def effective_rate_limit_storage(self) -> str:
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if self.redis_url:
            return "async+" + self.redis_url
        return "async+memory://"

    @cached_property
    def effective_jwt_secret(self) -> str:
        return self.jwt_secret_key or self._local_secret("jwt_secret_key")

    @cached_property
    def effective_internal_api_key(self) -> str:
        return self.internal_api_key or self._local_secret("internal_api_key")

    @cached_property
    def effective_secrets_key(self) -> str:
        return self.secrets_key or self._local_secret("secrets_key")

    def _local_secret(self, name: str) -> str:
        """Outside production an unset secret is generated once into the state directory
        (mode 0600), so there is never a well-known default and local tools can read it."""
        path = self.state_dir / name
        if path.exists():
            return path.read_text().strip()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(value)
        return value


def async_database_url(url: str) -> str:
    """Give a plain ``postgresql://`` or ``sqlite://`` URL its async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"DATABASE_URL is not a URL: {url[:40]!r}")
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ConfigurationError(
        f"DATABASE_URL scheme {scheme!r} is not supported (postgresql, sqlite)"
    )


def sync_database_url(url: str) -> str:
    """The same database for synchronous drivers (Alembic offline mode, kombu)."""
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    return f"{'postgresql' if base == 'postgres' else base}{sep}{rest}"


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


def set_settings(settings: Settings | None) -> None:
    """Replace the process-wide settings (the app factory and tests pass their own)."""
    global _settings
    _settings = settings
