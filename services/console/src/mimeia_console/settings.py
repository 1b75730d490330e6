"""Where the console finds each service, and how it lets people in.

Every address and credential comes from the environment (``CONSOLE_*``), so the
same console runs under ``mimeia up`` and against a deployed platform.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """The settings cannot run the console; the message names the setting."""


def _resource_list(value: str, field: str) -> list[tuple[str, str]]:
    """``ns/name,ns/name`` -> [(ns, name)], refusing anything else with the field's name."""
    out: list[tuple[str, str]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        namespace, sep, name = item.partition("/")
        if not sep or not namespace or not name or "/" in name:
            raise ValueError(f"{field}: {item!r} is not 'namespace/name'")
        out.append((namespace, name))
    return out


def _service_list(value: str) -> list[tuple[str, str]]:
    """``name=http://host:port,...`` -> [(name, url)], refusing anything else."""
    out = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.startswith(("http://", "https://")):
            raise ValueError(f"CONSOLE_OTHER_SERVICES: {item!r} is not 'name=http://host:port'")
        out.append((name.strip(), url.strip()))
    return out


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # the address people open (for links the services call back, e.g. the test receiver)
    public_url: str = ""

    # the automation service's REST API
    automation_url: str = "http://127.0.0.1:8090"
    # FlowMesh's gRPC address and the token the console uses there (None: open server)
    flowmesh_url: str = "127.0.0.1:50051"
    flowmesh_token: SecretStr | None = None
    # a user signed in without a FlowMesh token of their own reads FlowMesh with the
    # console's token (False: FlowMesh pages refuse them too); actions never use it
    flowmesh_shared_reads: bool = True
    flowmesh_metrics_url: str = ""  # http://host:port/metrics when FlowMesh serves them
    # bearer tokens the charts' sampler sends to each /metrics (the automation service's
    # METRICS_TOKEN; FlowMesh's when a proxy guards it); sent only there, never logged
    automation_metrics_token: SecretStr | None = None
    flowmesh_metrics_token: SecretStr | None = None
    # FlowMesh resources to show until the server can list them ("ns/name,...")
    flowmesh_streams: str = "console/orders"
    flowmesh_queues: str = "console/jobs"
    flowmesh_kv_stores: str = "console/settings"
    flowmesh_consumer_groups: str = ""  # for servers without ListConsumerGroups
    # the dev sinks' web APIs
    smtp_sink_url: str = "http://127.0.0.1:8025"
    sms_sink_url: str = "http://127.0.0.1:8026"
    # slack-connect's admin API and the console's admin token there
    slack_connect_url: str = "http://127.0.0.1:8676"
    slack_admin_token: SecretStr | None = None
    # a user signed in without a Slack admin token of their own sees the Slack page
    # with the console's token (False: it refuses them too); actions never use it
    slack_shared_reads: bool = True
    slack_org: str = ""
    mesh_url: str = "http://127.0.0.1:8675"
    # more HTTP services for the health table ("name=http://host:port,...")
    other_services: str = ""

    # auth: outside development everyone logs in; under `mimeia up` a visitor from
    # loopback is let in with the automation internal key read from this file
    loopback_key_file: Path | None = None
    default_tenant: str = "default"
    tenants: str = "default"  # offered by the tenant picker to internal-key sessions
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)

    # every call to a service
    request_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    metrics_interval_seconds: float = Field(default=10.0, ge=1, le=3600)

    @field_validator(
        "loopback_key_file",
        "session_secret",
        "flowmesh_token",
        "slack_admin_token",
        "automation_metrics_token",
        "flowmesh_metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("flowmesh_streams", "flowmesh_queues", "flowmesh_kv_stores")
    @classmethod
    def _resources_parse(cls, value: str, info: object) -> str:
        name = getattr(info, "field_name", "resources")
        _resource_list(value, f"CONSOLE_{str(name).upper()}")
        return value

    @field_validator("other_services")
    @classmethod
    def _services_parse(cls, value: str) -> str:
        _service_list(value)
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> ConsoleSettings:
        if self.env == "production":
            if self.loopback_key_file is not None:
                raise ConfigurationError(
                    "CONSOLE_LOOPBACK_KEY_FILE: loopback sign-in is for development only"
                )
            if self.session_secret is None:
                raise ConfigurationError(
                    "CONSOLE_SESSION_SECRET: required in production (replicas share sessions)"
                )
        return self

    def streams(self) -> list[tuple[str, str]]:
        return _resource_list(self.flowmesh_streams, "CONSOLE_FLOWMESH_STREAMS")

    def queues(self) -> list[tuple[str, str]]:
        return _resource_list(self.flowmesh_queues, "CONSOLE_FLOWMESH_QUEUES")

    def kv_stores(self) -> list[tuple[str, str]]:
        return _resource_list(self.flowmesh_kv_stores, "CONSOLE_FLOWMESH_KV_STORES")

    def consumer_groups(self) -> list[str]:
        return [g.strip() for g in self.flowmesh_consumer_groups.split(",") if g.strip()]

    def others(self) -> list[tuple[str, str]]:
        return _service_list(self.other_services)

    def tenant_choices(self) -> list[str]:
        return [t.strip() for t in self.tenants.split(",") if t.strip()]

    def effective_session_secret(self) -> str:
        if self.session_secret is not None:
            return self.session_secret.get_secret_value()
        # development: a secret per process (sessions end when the console restarts)
        global _PROCESS_SECRET
        if _PROCESS_SECRET is None:
            _PROCESS_SECRET = secrets.token_urlsafe(32)
        return _PROCESS_SECRET

    def self_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


_PROCESS_SECRET: str | None = None
