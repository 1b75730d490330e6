"""Issue 14.6: the rate limiter keys on who authenticated (JWT tenant and subject, or
the internal key's tenant) and on the address otherwise, so rotating X-Tenant-ID
(which JWT auth ignores) buys no fresh budget."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from automation.app import create_app
from automation.auth import create_token
from automation.runtime import Runtime

pytestmark = pytest.mark.integration

LIMIT = 5
ROTATIONS = 300


@pytest.fixture
async def limited(settings, redis_prefix) -> AsyncIterator[httpx.AsyncClient]:
    prefix = f"{redis_prefix}rl-keys-{uuid.uuid4().hex[:8]}:"
    runtime = Runtime.from_settings(
        settings.model_copy(update={"rate_limit": f"{LIMIT}/minute", "celery_key_prefix": prefix})
    )
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    await runtime.close()


async def statuses(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[int]:
    """``n`` calls, each naming a fresh X-Tenant-ID next to ``headers``."""
    codes = []
    for i in range(n):
        response = await client.get(
            "/api/v1/workflows", headers={**headers, "X-Tenant-ID": f"rot-{i}"}
        )
        codes.append(response.status_code)
    return codes


async def test_rotating_x_tenant_id_does_not_reset_a_users_budget(limited, jwt_secret) -> None:
    token = create_token(jwt_secret, "user-1", "tenant-a", ["workflows:read"])
    codes = await statuses(limited, {"Authorization": f"Bearer {token}"}, LIMIT + ROTATIONS)
    after = codes[LIMIT:]
    print(f"\nJWT + rotated X-Tenant-ID: {after.count(200)} of {ROTATIONS} answered 200 "
          f"after the limit, {after.count(429)} answered 429")  # fmt: skip
    assert codes[:LIMIT] == [200] * LIMIT
    assert after == [429] * ROTATIONS
    # another subject of the same tenant is another principal, with its own budget
    other = create_token(jwt_secret, "user-2", "tenant-a", ["workflows:read"])
    assert await statuses(limited, {"Authorization": f"Bearer {other}"}, 1) == [200]


async def test_unauthenticated_and_forged_calls_count_against_the_address(
    limited, jwt_secret
) -> None:
    forged = [create_token("not-the-secret-0123456789abcdefgh", f"u{i}", "tenant-a", ["*"])
              for i in range(LIMIT + 10)]  # fmt: skip
    codes = [
        (await limited.get("/api/v1/workflows", headers={
            "Authorization": f"Bearer {token}", "X-Tenant-ID": f"rot-{i}"})).status_code
        for i, token in enumerate(forged)
    ]  # fmt: skip
    assert codes == [401] * LIMIT + [429] * 10
    assert await statuses(limited, {}, 3) == [429] * 3
    # a real principal from the same address still has its own budget
    token = create_token(jwt_secret, "user-1", "tenant-a", ["workflows:read"])
    assert await statuses(limited, {"Authorization": f"Bearer {token}"}, 1) == [200]


async def test_internal_key_calls_count_per_tenant(limited) -> None:
    key = {"X-Internal-API-Key": "test-internal-key-0123456789"}
    first = [(await limited.get("/api/v1/workflows", headers={**key, "X-Tenant-ID": "svc-a"})
              ).status_code for _ in range(LIMIT + 1)]  # fmt: skip
    assert first == [200] * LIMIT + [429]
    other = await limited.get("/api/v1/workflows", headers={**key, "X-Tenant-ID": "svc-b"})
    assert other.status_code == 200
