"""Fixtures for the automation service tests: a migrated PostgreSQL database, the
real Redis as broker and rate-limit store, and the API over ASGI or a real port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from automation import migrate
from automation.app import create_app
from automation.auth import create_token
from automation.runtime import Runtime
from automation.settings import Settings

INTERNAL_KEY = "test-internal-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    migrate.upgrade(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def broker_prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}automation:"


@pytest.fixture(scope="session")
def service_env(
    migrated_postgres: str,
    redis_url: str,
    broker_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """Environment for service processes (worker, API) in these tests."""
    return {
        "ENV": "test",
        "DATABASE_URL": migrated_postgres,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_KEY_PREFIX": broker_prefix,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "JWT_SECRET_KEY": JWT_SECRET,
        "STATE_DIR": str(tmp_path_factory.mktemp("automation-state")),
        "RATE_LIMIT": "100000/minute",
        "HTTP_STEP_ALLOWED_HOSTS": "127.0.0.1,localhost,::1",
        "EXECUTION_LEASE_SECONDS": "3",
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
    }


@pytest.fixture
def settings(service_env: dict[str, str]) -> Settings:
    values = {k.lower(): v for k, v in service_env.items()}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.from_settings(settings)
    yield rt
    await rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _internal_headers(tenant: str) -> dict[str, str]:
    return {"X-Internal-API-Key": INTERNAL_KEY, "X-Tenant-ID": tenant}


def _bearer(
    tenant: str, scopes: list[str] | None = None, expires_in: float = 600
) -> dict[str, str]:
    token = create_token(
        JWT_SECRET, "user-1", tenant, scopes if scopes is not None else ["*"], expires_in
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def internal_headers() -> Callable[[str], dict[str, str]]:
    """Headers of a service call for a tenant (X-Internal-API-Key + X-Tenant-ID)."""
    return _internal_headers


@pytest.fixture
def bearer() -> Callable[..., dict[str, str]]:
    """Headers with a user token: ``bearer(tenant, scopes=None, expires_in=600)``."""
    return _bearer


@pytest.fixture
def jwt_secret() -> str:
    return JWT_SECRET


@pytest.fixture
def auth(tenant: str) -> dict[str, str]:
    return _internal_headers(tenant)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'automation.db'}"
