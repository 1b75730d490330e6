"""Inbound Wompi events under attack (issue 14.3, 14.13): a captured event re-pointed
at other values, the same event posted again, an old event, and tenant enumeration."""

from __future__ import annotations

import copy
import hashlib
import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _sign(event: dict[str, Any], secret: str) -> dict[str, Any]:
    values = ""
    for path in event["signature"]["properties"]:
        node: Any = event["data"]
        for part in path.split("."):
            node = node[part]
        values += str(node)
    text = f"{values}{event['timestamp']}{secret}"
    event["signature"]["checksum"] = hashlib.sha256(text.encode()).hexdigest()
    return event


def _event(secret: str, status: str = "DECLINED", amount: int = 100, age: int = 0) -> Any:
    transaction = {"id": f"tx-{uuid.uuid4().hex[:8]}", "status": status,
                   "amount_in_cents": amount, "reference": "order-1"}  # fmt: skip
    return _sign({"event": "transaction.updated", "data": {"transaction": transaction},
                  "environment": "test", "timestamp": int(time.time()) - age,
                  "signature": {"properties": ["transaction.id", "transaction.status",
                                               "transaction.amount_in_cents"]}},
                 secret)  # fmt: skip


@pytest.fixture
async def wompi(client, auth, tenant) -> tuple[str, str]:
    secret = f"test_events_{uuid.uuid4().hex}"
    put = await client.put(
        "/api/v1/integrations/wompi/settings", headers=auth, json={"events_secret": secret}
    )
    assert put.status_code == 204, put.text
    return f"/api/v1/integrations/wompi/{tenant}/events", secret


async def _stored(client, auth) -> int:
    listed = await client.get(
        "/api/v1/events", headers=auth, params={"event_type": "wompi.transaction.updated"}
    )
    return int(listed.json()["total"])


async def test_a_captured_event_cannot_be_forged_into_an_approval(client, auth, wompi) -> None:
    url, secret = wompi
    captured = _event(secret, "DECLINED", 100)
    forged = copy.deepcopy(captured)
    forged["data"]["transaction"].update(status="APPROVED", amount_in_cents=999_999_900)
    tx = captured["data"]["transaction"]
    forged["data"]["blob"] = f"{tx['id']}DECLINED100"  # the concatenation the checksum covers
    forged["signature"]["properties"] = ["blob"]
    answer = await client.post(url, json=forged)
    assert answer.status_code == 400, answer.text
    unsigned_type = copy.deepcopy(captured)
    unsigned_type["event"] = "nequi_token.updated"  # "event" is not signed
    assert (await client.post(url, json=unsigned_type)).status_code == 400
    assert await _stored(client, auth) == 0
    assert (await client.post(url, json=captured)).status_code == 200
    assert await _stored(client, auth) == 1


async def test_the_same_event_is_stored_once(client, auth, wompi) -> None:
    url, secret = wompi
    event = _event(secret, "APPROVED", 4_490_000)
    answers = [await client.post(url, json=event) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert await _stored(client, auth) == 1
    # the same transaction in another status is another event
    later = _event(secret, "VOIDED", 4_490_000)
    later["data"]["transaction"]["id"] = event["data"]["transaction"]["id"]
    assert (await client.post(url, json=_sign(later, secret))).json()["duplicate"] is False
    assert await _stored(client, auth) == 2


async def test_an_old_event_is_refused(client, auth, wompi) -> None:
    url, secret = wompi
    old = await client.post(url, json=_event(secret, "APPROVED", age=400 * 86400))
    assert old.status_code == 400 and "older" in old.json()["detail"]
    assert await _stored(client, auth) == 0


async def test_unknown_and_known_tenants_answer_alike(client, auth, tenant, wompi) -> None:
    url = wompi[0]
    bad = _event("not-the-secret")
    unconfigured = f"t-{uuid.uuid4().hex[:10]}"
    await client.get("/api/v1/events", headers={**auth, "X-Tenant-ID": unconfigured})  # exists
    answers = [
        await client.post(url, json=bad),  # known tenant, wrong checksum
        await client.post(f"/api/v1/integrations/wompi/{unconfigured}/events", json=bad),
        await client.post(f"/api/v1/integrations/wompi/nobody-{uuid.uuid4().hex}/events", json=bad),
        await client.post(f"/api/v1/integrations/wompi/{tenant}%0A/events", json=bad),
    ]
    assert {(a.status_code, a.text) for a in answers} == {
        (400, '{"detail":"signature: the event checksum does not match"}')
    }


async def test_receipts_past_the_maximum_age_are_pruned(client, tenant, wompi, runtime) -> None:
    from automation.routers.wompi import prune_receipts

    url, secret = wompi
    event = _event(secret, "APPROVED")
    assert (await client.post(url, json=event)).json()["duplicate"] is False
    async with runtime.database.session() as session:
        assert await prune_receipts(session, tenant, event["timestamp"]) == 0  # not older
        assert await prune_receipts(session, "someone-else", time.time() + 1) == 0
        assert await prune_receipts(session, tenant, event["timestamp"] + 1) == 1
