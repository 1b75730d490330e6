"""Redis data across versions: what 1.4.3 wrote, ours reads, updates and expires; what
ours writes lies in 1.4.3's layout and decodes by 1.4.3's rules.

1.4.3's side is written and read here with redis-py directly, in its key layout,
value encoding and databases (one per alias; this run's six databases come from
the ``redis14`` fixture, with a tenant unique to the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from upstream_calls import redis_read_dataset, redis_write_dataset

from mimeiapify.symphony_ai import GlobalSymphony, GlobalSymphonyConfig
from mimeiapify.symphony_ai.redis import RedisSharedState, RedisUser
from mimeiapify.symphony_ai.redis.listeners import expiration_registry, run_expiry_listener
from mimeiapify.symphony_ai.redis.redis_client import RedisSettings

pytestmark = pytest.mark.integration


def decode_14(raw: str | None) -> Any:
    """How 1.4.3 decodes a stored value without a model: "1"/"0" are booleans, JSON is
    parsed, anything else is the text."""
    if raw is None or raw == "null":
        return None
    if raw in ("1", "0"):
        return raw == "1"
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@pytest.fixture
def raw(redis14: dict[str, Any]) -> Iterator[dict[str, redis.Redis]]:
    """A redis-py client per 1.4 alias, on that alias's database."""
    clients = {
        alias: redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        for alias, url in redis14["urls"].items()
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
async def symphony14(redis14: dict[str, Any]) -> AsyncIterator[GlobalSymphony]:
    """Our runtime configured the 1.4 way: a mapping of the six aliases."""
    runtime = await GlobalSymphony.create(cfg=GlobalSymphonyConfig(redis_url=redis14["urls"]))
    try:
        yield runtime
    finally:
        await GlobalSymphony.shutdown()


def write_like_1_4(raw: dict[str, redis.Redis], t: str, service: str) -> None:
    """The keys and values 1.4.3's ``redis_write_dataset`` leaves behind."""
    day = 86_400
    user = f"{t}:user:u1"
    raw["user"].hset(user, mapping={
        "name": "Ana", "score": "10", "vip": "1",
        "profile": '{"name": "Ana", "active": "1"}',  # 1.4: model bools as "1"/"0"
        "tags": '["a", "b"]',
    })  # fmt: skip
    raw["user"].expire(user, day)
    shared = f"{t}:SS:conversation:u1"
    raw["symphony_shared_state"].hset(shared, mapping={"step": "2", "lang": "es"})
    raw["symphony_shared_state"].expire(shared, day)
    handler = f"{t}:state:chat:u1"
    raw["handlers"].hset(handler, mapping={"step": "1", "topic": "billing"})
    raw["handlers"].expire(handler, day)
    table = f"{t}:df:orders:pkid:o1"
    raw["handlers"].hset(table, mapping={"total": "10", "status": "new"})
    raw["handlers"].expire(table, day)
    raw["handlers"].rpush(f"{t}:batch:{service}:inbox:send", '{"m": 1}', "raw text", "7")
    raw["handlers"].sadd(f"pending_batches:{service}", t)
    raw["default"].set(f"{t}:cfg", '{"a": 1, "on": true}')
    raw["expiry"].set(f"{t}:EXPTRIGGER:remind:u1", "trigger:2025-06-09T12:00:00", ex=600)


async def test_ours_reads_updates_and_expires_what_1_4_wrote(
    redis14: dict[str, Any], raw: dict[str, redis.Redis], symphony14: GlobalSymphony
) -> None:
    t, service = redis14["tenant"], redis14["service"]
    write_like_1_4(raw, t, service)
    got = dict(await redis_read_dataset(t, service))
    typed = got.pop("user.get(models=profile)")
    # 1.4's model bools ("1") validate into the model's bool fields
    assert typed.pop("profile").model_dump() == {"name": "Ana", "active": True}
    assert typed == {"name": "Ana", "score": 10, "vip": True, "tags": ["a", "b"]}
    assert got == {
        "user.get_field(score)": 10,
        "user.get_field(vip)": True,
        "user.get_field(tags)": ["a", "b"],
        "user.find_by_field(name)": {
            "name": "Ana", "score": 10, "vip": True, "tags": ["a", "b"],
            "profile": {"name": "Ana", "active": "1"},  # no model: as 1.4 reads it
        },
        "user.find_by_field(score int)": got["user.find_by_field(name)"],
        "shared_state.get": {"step": 2, "lang": "es"},
        "shared_state.list_states": ["conversation"],
        "handler.get": {"step": 1, "topic": "billing"},
        "handler.get_field (text)": "1",
        "table.get": {"total": 10, "status": "new"},
        "table.find_by_field": {"total": 10, "status": "new"},
        "batch.get_chunk": [{"m": 1}, "raw text", 7],
        "batch.get_length": 3,
        "batch tenant pending": True,
        "generic.get": {"a": 1, "on": True},
        "trigger armed": True,
        "user.update_field": True,
        "user.increment_field": 11,
        "user.append_to_list": True,
        "shared_state.update_field": True,
        "handler.merge keeps fields": ["handler_type", "lang", "step", "timestamp", "topic"],
        "table.increment_field": 15,
        "batch.trim": True,
        "user.renew_ttl(key, 100)": True,
        "user ttl after renew": got["user ttl after renew"],
        "user.get after updates": {
            "name": "Ana", "score": 11, "vip": True, "tags": ["a", "b", "c"], "city": "Cali",
            "profile": {"name": "Ana", "active": "1"},
        },
        "trigger.delete": 1,
    }  # fmt: skip
    assert 95 <= got["user ttl after renew"] <= 100
    # what the updates left is still 1.4's data, in 1.4's keys
    user = raw["user"].hgetall(f"{t}:user:u1")
    assert decode_14(user["score"]) == 11 and decode_14(user["city"]) == "Cali"
    assert decode_14(user["tags"]) == ["a", "b", "c"]
    assert 95 <= raw["user"].ttl(f"{t}:user:u1") <= 100
    assert decode_14(raw["symphony_shared_state"].hget(f"{t}:SS:conversation:u1", "step")) == 3
    assert decode_14(raw["handlers"].hget(f"{t}:df:orders:pkid:o1", "total")) == 15
    assert raw["handlers"].lrange(f"{t}:batch:{service}:inbox:send", 0, -1) == ["raw text", "7"]
    assert not raw["expiry"].exists(f"{t}:EXPTRIGGER:remind:u1")


async def test_a_trigger_armed_by_1_4_fires_in_ours(
    redis14: dict[str, Any], raw: dict[str, redis.Redis], symphony14: GlobalSymphony
) -> None:
    t, action = redis14["tenant"], f"remind_{redis14['service']}"
    fired: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @expiration_registry.on_expire_action(action)
    async def on_expire(identifier: str, full_key: str) -> None:  # 1.4's signature
        await fired.put((identifier, full_key))

    listener = asyncio.create_task(run_expiry_listener(alias="expiry"))
    try:
        await asyncio.sleep(0.3)  # subscribed
        raw["expiry"].set(f"{t}:EXPTRIGGER:{action}:573001234567", "trigger:x", ex=1)
        got = await asyncio.wait_for(fired.get(), timeout=10)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    assert got == ("573001234567", f"{t}:EXPTRIGGER:{action}:573001234567")


async def test_what_ours_writes_lies_in_1_4_layout(
    redis14: dict[str, Any], raw: dict[str, redis.Redis], symphony14: GlobalSymphony
) -> None:
    t, service = redis14["tenant"], redis14["service"]
    await redis_write_dataset(t, service)
    user = raw["user"].hgetall(f"{t}:user:u1")
    assert {k: decode_14(v) for k, v in user.items()} == {
        "name": "Ana", "score": 10, "vip": True, "tags": ["a", "b"],
        "profile": {"name": "Ana", "active": True},  # 1.4 validates this into its model too
    }  # fmt: skip
    assert 86_300 < raw["user"].ttl(f"{t}:user:u1") <= 86_400
    shared = raw["symphony_shared_state"].hgetall(f"{t}:SS:conversation:u1")
    assert {k: decode_14(v) for k, v in shared.items()} == {"step": 2, "lang": "es"}
    handler = raw["handlers"].hgetall(f"{t}:state:chat:u1")
    assert {k: decode_14(v) for k, v in handler.items()} == {"step": 1, "topic": "billing"}
    table = raw["handlers"].hgetall(f"{t}:df:orders:pkid:o1")
    assert {k: decode_14(v) for k, v in table.items()} == {"total": 10, "status": "new"}
    queue = raw["handlers"].lrange(f"{t}:batch:{service}:inbox:send", 0, -1)
    assert [decode_14(v) for v in queue] == [{"m": 1}, "raw text", 7]
    assert raw["handlers"].smembers(f"pending_batches:{service}") == {t}
    assert decode_14(raw["default"].get(f"{t}:cfg")) == {"a": 1, "on": True}
    assert raw["default"].ttl(f"{t}:cfg") == -1  # 1.4's generic keys never expire unless ex=
    assert 590 < raw["expiry"].ttl(f"{t}:EXPTRIGGER:remind:u1") <= 600
    # nothing went to another alias's database
    assert not raw["default"].exists(f"{t}:user:u1") and not raw["user"].exists(f"{t}:cfg")


async def test_ids_with_colons_stay_reversible(
    redis14: dict[str, Any], raw: dict[str, redis.Redis], symphony14: GlobalSymphony
) -> None:
    """1.4 turned ':' into '_' in shared-state keys (so "a:b" and "a_b" collided and
    list_states could not tell them apart); ours percent-escapes it."""
    t = redis14["tenant"]
    state = RedisSharedState(tenant=t, user_id="wa:573001")
    await state.upsert("form:step", {"v": 1})
    await state.upsert("form_step", {"v": 2})
    assert await state.list_states() == ["form:step", "form_step"]
    assert raw["symphony_shared_state"].exists(f"{t}:SS:form%3Astep:wa%3A573001")
    await RedisUser(tenant=t, user_id="wa:573001").upsert({"n": 1})
    assert raw["user"].exists(f"{t}:user:wa%3A573001")


def test_one_url_puts_each_alias_in_its_1_4_database() -> None:
    one = RedisSettings.build("redis://cache:6379")
    assert {alias: url.rsplit("/", 1)[1] for alias, url in one.urls.items()} == {
        "default": "15", "user": "11", "handlers": "10", "shared_state": "9",
        "expiry": "8", "pubsub": "7",
    }  # fmt: skip
    assert RedisSettings.build("redis://cache:6379/0").urls == one.urls  # 1.4 ignored the db
    partial = RedisSettings.build(
        {"default": "redis://a:1/15", "symphony_shared_state": "redis://b:2/3"}
    )
    assert partial.urls["shared_state"] == "redis://b:2/3"
    assert partial.urls["user"] == "redis://a:1/11"
    with pytest.raises(ValueError, match="unknown Redis alias 'users'"):
        RedisSettings.build({"default": "redis://a:1/15", "users": "redis://a:1/1"})
