"""The authenticator over stored tokens, without a server: hashes only, the
permission and namespace checks, expiry, revocation ending a guarded stream."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowmesh.server.auth import Authenticator, guarded
from flowmesh.server.errors import InvalidArgument, PermissionDenied, Unauthenticated
from flowmesh.server.store.records import Resource
from flowmesh.server.store.sqlite import SqliteStore
from flowmesh.server.tokens import hash_token, new_token


async def test_stored_tokens_check_tenant_namespace_permission_and_expiry(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "fm.db"))
    await store.open()
    try:
        auth = Authenticator(store=store, require_auth=True)
        await auth.refresh()
        assert not auth.open
        with pytest.raises(Unauthenticated, match="missing bearer token"):
            auth.caller(None)
        token, record = new_token("acme", ["shop"], ["stream:read", "kv:write"])
        assert record.token_hash == hash_token(token) and token not in record.to_json()
        await store.token_put(record)
        await auth.refresh()
        caller = auth.caller(f"Bearer {token}")
        caller.allow(Resource("acme", "shop", "s"), "stream:read")
        with pytest.raises(PermissionDenied, match="lacks the permission 'stream:write'"):
            caller.allow(Resource("acme", "shop", "s"), "stream:write")
        with pytest.raises(
            PermissionDenied, match=r"resource_path\.namespace: .* \(allowed: shop\)"
        ):
            caller.allow(Resource("acme", "ops", "s"), "stream:read")
        with pytest.raises(PermissionDenied, match=r"resource_path\.tenant: .*'globex'"):
            caller.allow(Resource("globex", "shop", "s"), "stream:read")
        with pytest.raises(Unauthenticated, match="unknown bearer token"):
            auth.caller(f"Bearer {token[:-2]}xx")  # right id, wrong secret

        await store.token_put(dataclasses.replace(record, expires_at_ms=int(time.time() * 1000)))
        await auth.refresh()
        with pytest.raises(Unauthenticated, match=rf"token {record.token_id} expired at"):
            auth.caller(f"Bearer {token}")
        assert caller.ended is not None and caller.ended.is_set()
    finally:
        await store.close()


async def test_a_revoked_token_ends_a_guarded_stream(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "fm.db"))
    await store.open()
    try:
        auth = Authenticator(store=store)
        token, record = new_token("acme")
        assert record.permissions == ("*",) and record.namespaces == ()
        await store.token_put(record)
        await auth.refresh()
        caller = auth.caller(f"Bearer {token}")

        async def forever() -> AsyncIterator[int]:
            n = 0
            while True:
                yield n
                n += 1
                await asyncio.sleep(0.01)

        got: list[int] = []

        async def consume() -> None:
            async for n in guarded(caller, forever()):
                got.append(n)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        await store.token_put(dataclasses.replace(record, revoked_at_ms=1))
        await auth.refresh()
        with pytest.raises(Unauthenticated, match="revoked or expired"):
            await asyncio.wait_for(task, 5)
        assert got
        with pytest.raises(Unauthenticated, match=rf"token {record.token_id} was revoked"):
            auth.caller(f"Bearer {token}")
    finally:
        await store.close()


def test_new_token_refuses_bad_input_naming_the_field():
    with pytest.raises(InvalidArgument, match="permission: must be one of"):
        new_token("acme", permissions=["stream:delete"])
    with pytest.raises(InvalidArgument, match="namespace: must be"):
        new_token("acme", namespaces=["bad name"])
    with pytest.raises(InvalidArgument, match="expires_in: must be 0"):
        new_token("acme", expires_in_s=-1)
