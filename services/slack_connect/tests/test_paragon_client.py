from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common_core.retry import RetryPolicy
from mimeia.testing import free_port
from slack_connect.paragon import (
    ParagonAuthError,
    ParagonClient,
    ParagonCredentialInvalid,
    ParagonNotFound,
    ParagonRateLimited,
    ParagonServerError,
    ParagonUnavailable,
    ProxyResponse,
    SyncWindow,
    UserTokenSigner,
)

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=1.0)
PROJECT_ID = "2f1c7f3e-6f00-4c6b-9d0a-5a2b1c9e0f11"


def client_for(stack: Any, signer: UserTokenSigner | None = None, **kw: Any) -> ParagonClient:
    signer = signer or UserTokenSigner(stack.keys.private_pem, audience="paragon-test")
    return ParagonClient(
        PROJECT_ID,
        signer,
        api_base=stack.emulator_url,
        trigger_base=stack.trigger_url,
        retry=FAST,
        timeout=5,
        **kw,
    )


def new_sub() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def test_user_token_claims_cache_and_refresh(keys: Any) -> None:
    now = [1_700_000_000.0]
    signer = UserTokenSigner(keys.private_pem, audience="paragon-test", clock=lambda: now[0])
    token = signer.token_for("org-1")
    claims = jwt.decode(
        token,
        keys.public_pem,
        algorithms=["RS256"],
        audience="paragon-test",
        options={"verify_exp": False},
    )
    assert claims == {
        "sub": "org-1",
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
        "aud": "paragon-test",
    }
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    now[0] += 3000  # still 10 minutes left: the cached token is reused
    assert signer.token_for("org-1") == token
    now[0] += 400  # inside the refresh margin: signed again
    fresh = signer.token_for("org-1")
    assert fresh != token
    assert jwt.decode(fresh, options={"verify_signature": False})["iat"] == 1_700_003_400
    assert signer.token_for("org-2") != fresh


def test_signer_rejects_bad_keys() -> None:
    with pytest.raises(ValueError, match="not a PEM private key"):
        UserTokenSigner("-----BEGIN NOTHING-----")
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="RSA"):
        UserTokenSigner(ec_key)


async def test_proxy_unwraps_output_and_returns_raw_files(stack: Any) -> None:
    async with client_for(stack) as client:
        listing = await client.proxy(
            new_sub(), "slack", "GET", "conversations.list", params={"limit": 2}
        )
        assert listing["ok"] is True
        assert [c["id"] for c in listing["channels"]] == ["C0567MFSJH2", "C056AV2JDLK"]
        assert listing["response_metadata"]["next_cursor"]
        history = await client.proxy(
            new_sub(),
            "slack",
            "POST",
            "conversations.history",
            json_body={"channel": "C056AV2JDLK", "oldest": "1700000010", "limit": 10},
        )
        assert [m["ts"] for m in history["messages"]] == [
            "1700000035.000100",
            "1700000025.000100",
            "1700000015.000100",
        ]
        raw = await client.proxy(
            new_sub(), "slack", "GET", "files-pri/T061EG9R6-F0S43PZDF/download/notes.txt", raw=True
        )
    assert isinstance(raw, ProxyResponse)
    assert raw.content == b"Meeting notes: ghosts are real. Budget ok\n"
    assert raw.content_type.startswith("text/plain")
    assert raw.headers["x-slack-file-id"] == "F0S43PZDF"


async def test_proxy_rejects_bad_paths_before_sending(stack: Any) -> None:
    async with client_for(stack) as client:
        with pytest.raises(ValueError, match="path"):
            await client.proxy("org", "slack", "GET", "../../sdk/me")
        with pytest.raises(ValueError, match="integration"):
            await client.proxy("org", "sl/ack", "GET", "conversations.list")


async def test_users_api_metadata_and_credential_status(stack: Any) -> None:
    sub = new_sub()
    async with client_for(stack) as client:
        updated = await client.set_user_meta(sub, {"userid": sub, "allowListedChannels": ["C1"]})
        assert updated.meta["allowListedChannels"] == ["C1"]
        user = await client.get_user(sub)
        assert user.user_id == sub
        assert user.connection_status("slack") == "VALID"
        httpx.put(
            f"{stack.emulator_url}/_emulator/users/{sub}", json={"credential_status": "INVALID"}
        )
        with pytest.raises(ParagonCredentialInvalid) as info:
            await client.require_connection(sub, "slack")
        assert info.value.credential_status == "INVALID"
        assert (await client.get_user(sub)).connection_status("notion") == "NOT_CONNECTED"
        with pytest.raises(TypeError):
            await client.set_user_meta(sub, ["not", "a", "mapping"])  # type: ignore[arg-type]


async def test_trigger_on_its_own_host_and_unknown_workflow(stack: Any) -> None:
    sub = new_sub()
    async with client_for(stack) as client:
        answer = await client.trigger_workflow(sub, "wf-users-0002", SyncWindow(limit=50))
        assert answer["success"] is True
        with pytest.raises(ParagonNotFound):
            await client.trigger_workflow(sub, "wf-does-not-exist")
    runs = httpx.get(f"{stack.emulator_url}/_emulator/runs").json()["runs"]
    mine = [r for r in runs if r["user"] == sub]
    assert mine[0]["params"] == {
        "oldest": "0",
        "inclusive": True,
        "limit": 50,
        "include_all_metadata": True,
    }


def test_sync_window_validation() -> None:
    with pytest.raises(ValueError, match="latest"):
        SyncWindow(oldest="1700000100.000000", latest="1700000000.000000")
    with pytest.raises(ValueError):
        SyncWindow(limit=0)
    with pytest.raises(ValueError, match="Slack timestamp"):
        SyncWindow(oldest="last week")


async def test_retries_429_honouring_retry_after_then_succeeds(stack: Any) -> None:
    httpx.post(
        f"{stack.emulator_url}/_emulator/faults",
        json={"status": 429, "count": 2, "retry_after": "0.3"},
    )
    started = time.monotonic()
    async with client_for(stack) as client:
        user = await client.get_user(new_sub())
    assert user.authenticated
    assert time.monotonic() - started >= 0.6


async def test_5xx_and_429_that_outlast_retries_are_typed(stack: Any) -> None:
    async with client_for(stack) as client:
        httpx.post(f"{stack.emulator_url}/_emulator/faults", json={"status": 503, "count": 4})
        with pytest.raises(ParagonServerError) as info:
            await client.get_user(new_sub())
        assert (info.value.status, info.value.attempts) == (503, 4)
        httpx.post(
            f"{stack.emulator_url}/_emulator/faults",
            json={"status": 429, "count": 4, "retry_after": "0"},
        )
        with pytest.raises(ParagonRateLimited):
            await client.get_user(new_sub())


async def test_expired_or_foreign_tokens_are_refused(stack: Any, tmp_path: Any) -> None:
    stale = UserTokenSigner(
        stack.keys.private_pem, audience="paragon-test", clock=lambda: time.time() - 7200
    )
    async with client_for(stack, stale) as client:
        with pytest.raises(ParagonAuthError, match="expired"):
            await client.get_user(new_sub())
    wrong_aud = UserTokenSigner(stack.keys.private_pem, audience="someone-else")
    async with client_for(stack, wrong_aud) as client:
        with pytest.raises(ParagonAuthError, match=r"(?i)audience"):
            await client.get_user(new_sub())
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    async with client_for(stack, UserTokenSigner(stranger, audience="paragon-test")) as client:
        with pytest.raises(ParagonAuthError, match="Signature"):
            await client.get_user(new_sub())


async def test_unreachable_paragon_is_typed() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    url = f"http://127.0.0.1:{free_port()}"
    client = ParagonClient(
        PROJECT_ID,
        UserTokenSigner(pem),
        api_base=url,
        trigger_base=url,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
        timeout=2,
    )
    async with client:
        with pytest.raises(ParagonUnavailable) as info:
            await client.get_user("org")
    assert info.value.attempts == 2 and info.value.status is None


def test_client_rejects_bad_configuration(keys: Any) -> None:
    signer = UserTokenSigner(keys.private_pem)
    with pytest.raises(ValueError, match="project_id"):
        ParagonClient("", signer)
    with pytest.raises(ValueError, match="trigger_base"):
        ParagonClient("p", signer, trigger_base="zeus.useparagon.com")
