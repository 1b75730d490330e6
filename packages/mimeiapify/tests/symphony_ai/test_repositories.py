"""The repository suite: run once on fakeredis and once on the real Redis (``backend``)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from enum import Enum

import pytest
from pydantic import BaseModel

from mimeiapify.symphony_ai import InvalidKeyPartError, SerializationError, StoredValueError
from mimeiapify.symphony_ai.redis import NO_EXPIRY, KeyFactory, RedisClient
from mimeiapify.symphony_ai.redis.redis_handler import (
    RedisBatch,
    RedisGeneric,
    RedisSharedState,
    RedisStateHandler,
    RedisTable,
    RedisTrigger,
    RedisUser,
    RedisUsers,
)

TRICKY_NAMES = [
    "a:b",
    "star*",
    "what?",
    "[x]",
    "with space",
    "50%",
    "{tag}",
    "ñandú",
    "back\\slash",
]


class Color(Enum):
    RED = "red"


class Profile(BaseModel):
    name: str
    active: bool
    born: datetime


async def test_values_keep_their_type(backend: str) -> None:
    user = RedisUser(tenant="t", user_id="u")
    values = {
        "int1": 1, "str1": "1", "true": True, "int0": 0, "str0": "0", "false": False,
        "float": 1.0, "neg": -7, "big": 2**60, "none": None, "text": "hello", "empty": "",
        "jsonish": '{"a": 1}', "word_true": "true", "null_text": "null", "spaced": " 1",
        "list": [1, "1", True, None], "dict": {"k": [False, 2.5]}, "unicode": "ñ✓",
    }  # fmt: skip
    await user.upsert(values)
    stored = await user.get()
    assert stored == values
    for name, value in values.items():
        assert type(stored[name]) is type(value), name
    raw = await RedisClient.get("user").hgetall(KeyFactory().user("t", "u"))
    assert raw["true"] == "1" and raw["false"] == "0"  # booleans stay compact


async def test_special_types_and_typed_reads(backend: str) -> None:
    user = RedisUser(tenant="t", user_id="u2")
    born = datetime(2000, 1, 2, 3, 4, 5, tzinfo=UTC)
    await user.upsert({"profile": Profile(name="A", active=False, born=born), "color": Color.RED})
    await user.update_field("seen", born)
    data = await user.get(models={"profile": Profile, "seen": datetime})
    assert data == {
        "profile": Profile(name="A", active=False, born=born),
        "color": "red",
        "seen": born,
    }
    assert await user.get_field("seen", model=datetime) == born
    with pytest.raises(SerializationError, match="color"):
        await user.get(models={"color": Profile})


async def test_increment_is_lossless_and_atomic(backend: str) -> None:
    user = RedisUser(tenant="t", user_id="counter")
    assert await user.increment_field("n") == 1
    assert await user.get_field("n") == 1 and await user.get_field("n") is not True
    await asyncio.gather(*(user.increment_field("n") for _ in range(99)))
    assert await user.get_field("n") == 100
    assert await user.increment_field("n", -100) == 0
    assert await user.get_field("n") == 0 and await user.get_field("n") is not False
    assert await user.increment_field("price", 0.5) == 0.5
    assert await user.increment_field("price", 0.5) == 1.0
    assert type(await user.get_field("price")) is float
    await user.update_field("flag", True)  # stored "1", which 1.4's HINCRBY counts as 1
    assert await user.increment_field("flag", increment=2) == 3
    await user.update_field("name", "bob")
    with pytest.raises(StoredValueError, match="not a number"):
        await user.increment_field("name")
    with pytest.raises(InvalidKeyPartError, match="increment"):
        await user.increment_field("n", "1")  # type: ignore[arg-type]


async def test_hundred_concurrent_appenders_lose_nothing(backend: str) -> None:
    state = RedisSharedState(tenant="t", user_id="u")
    done = await asyncio.gather(
        *(state.append_to_list("log", "events", {"i": i, "s": f'x,]{i}"'}) for i in range(100))
    )
    assert done == [True] * 100
    events = await state.get_field("log", "events")
    assert len(events) == 100
    assert sorted(e["i"] for e in events) == list(range(100))
    assert all(e["s"] == f'x,]{e["i"]}"' for e in events)
    await state.set_field("log", "text", "abc")
    with pytest.raises(StoredValueError, match="list"):
        await state.append_to_list("log", "text", 1)


async def test_concurrent_merges_keep_every_field(backend: str) -> None:
    handler = RedisStateHandler(tenant="t", user_id="u")
    results = await asyncio.gather(
        *(handler.merge("flow", {f"f{i}": i}, stamp=False) for i in range(50))
    )
    final = await handler.get("flow")
    assert final == {f"f{i}": i for i in range(50)}
    assert max(len(r) for r in results) == 50


async def test_upsert_sets_ttl_and_overrides(backend: str) -> None:
    user = RedisUser(tenant="t", user_id="ttl", ttl_default=100)
    key = user.key()
    await user.upsert({"a": 1})
    assert 95 <= await user.get_ttl(key) <= 100
    await user.upsert({"b": 2}, ttl=5000)
    assert 4990 <= await user.get_ttl(key) <= 5000
    assert await user.renew_ttl(key) is True
    assert 95 <= await user.get_ttl(key) <= 100
    assert await user.renew_ttl(key, ttl=NO_EXPIRY) is True  # persist
    assert await user.get_ttl(key) == -1
    missing = RedisUser(tenant="t", user_id="missing")
    assert await missing.get_ttl(missing.key()) == -2
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(InvalidKeyPartError, match="ttl"):
            await user.upsert({"a": 1}, ttl=bad)
    with pytest.raises(InvalidKeyPartError, match="ttl_default"):
        RedisUser(tenant="t", user_id="u", ttl_default=-5)
    # 1.4's defaults: a day, and None (or 0) means the default
    assert RedisUser(tenant="t", user_id="u").ttl_default == 86_400
    assert RedisUser(tenant="t", user_id="u", ttl_default=0).ttl_default == 86_400
    await user.upsert({"c": 3}, ttl=None)
    assert 95 <= await user.get_ttl(key) <= 100
    # the key helpers only take this tenant's keys
    with pytest.raises(InvalidKeyPartError, match="not a key of tenant"):
        await user.get_ttl(RedisUser(tenant="other", user_id="ttl").key())


@pytest.mark.parametrize("name", TRICKY_NAMES)
async def test_names_are_escaped_reversibly(backend: str, name: str) -> None:
    state = RedisSharedState(tenant=name, user_id=name)
    await state.set(name, {"v": 1})
    await state.set("plain", {"v": 2})
    assert await state.list_states() == sorted([name, "plain"])
    assert await state.get(name) == {"v": 1}
    assert await RedisUsers(tenant=name).list_user_ids() == []
    await RedisUser(tenant=name, user_id=name).upsert({"x": 1})
    assert await RedisUsers(tenant=name).list_user_ids() == [name]


async def test_patterns_never_reach_another_tenant(backend: str) -> None:
    # tenant "a" with user "b:state:c" must not collide with tenant "a:state" etc.
    one = RedisSharedState(tenant="a", user_id="b:state:c")
    two = RedisSharedState(tenant="a:state", user_id="b")
    star = RedisSharedState(tenant="*", user_id="*")
    await one.set("s1", {"v": 1})
    await two.set("s2", {"v": 2})
    await star.set("s3", {"v": 3})
    assert await one.list_states() == ["s1"]
    assert await two.list_states() == ["s2"]
    assert await star.list_states() == ["s3"]
    assert await star.clear_all_states() == 1
    assert await one.get("s1") == {"v": 1} and await two.get("s2") == {"v": 2}
    await RedisUser(tenant="a", user_id="x").upsert({"email": "e"})
    await RedisUser(tenant="a*", user_id="y").upsert({"email": "e"})
    assert [u for u in await RedisUsers(tenant="a").find_all_by_field("email", "e")] == [
        {"email": "e"}
    ]
    tables = RedisTable(tenant="a")
    await tables.set("t1", "pk", {"v": 1})
    await RedisTable(tenant="a:table:t1").set("t1", "pk", {"v": 2})
    assert await tables.delete_all_by_pkid("pk") == 1
    assert await RedisTable(tenant="a:table:t1").get("t1", "pk") == {"v": 2}


async def test_bad_inputs_are_rejected_with_the_field_named(backend: str) -> None:
    for bad, message in (("", "empty"), ("x" * 2000, "longer"), (123, "string"), (None, "string")):
        with pytest.raises(InvalidKeyPartError, match="tenant"):
            RedisUser(tenant=bad, user_id="u")  # type: ignore[arg-type]
        with pytest.raises(InvalidKeyPartError, match=f"user_id: .*{message}"):
            RedisUser(tenant="t", user_id=bad)  # type: ignore[arg-type]
    state = RedisSharedState(tenant="t", user_id="u")
    with pytest.raises(InvalidKeyPartError, match="state_name"):
        await state.get("")
    with pytest.raises(SerializationError, match="data: must contain"):
        await state.set("s", {})
    with pytest.raises(SerializationError, match="expected a mapping"):
        await state.set("s", [("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="field names"):
        await state.set("s", {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(SerializationError, match="object"):
        await state.set_field("s", "f", object())
    with pytest.raises(InvalidKeyPartError, match="user_id: not given"):
        await RedisStateHandler(tenant="t").get("chat")
    assert await state.exists("s") is False  # nothing half-written
    with pytest.raises(InvalidKeyPartError, match="key_prefix"):
        KeyFactory.set_namespace("bad*prefix:")


async def test_state_handler_user_override_and_crud(backend: str) -> None:
    handlers = RedisStateHandler(tenant="t")
    await handlers.set("chat", {"step": 1}, user_id="u1")
    await handlers.set("chat", {"step": 9}, user_id="u2")
    assert await handlers.get("chat", "u1") == {"step": 1}
    assert await handlers.get("chat", user_id="u1") == {"step": 1}
    bound = RedisStateHandler(tenant="t", user_id="u1")
    await bound.update_field("chat", "step", 2)
    assert await bound.get_field("chat", "step") == "2"  # as stored, like 1.4
    assert await bound.get_field("chat", "step", decode=True) == 2
    assert await bound.increment_field("chat", "step") == 3
    assert await bound.append_to_list("chat", "hist", "a") is True
    assert await bound.delete_field("chat", "hist") == 1
    assert await bound.list_states() == ["chat"]
    assert await bound.exists("chat") and await bound.delete("chat") == 1
    assert await handlers.get("chat", "u2") == {"step": 9}


async def test_set_replaces_while_update_merges(backend: str) -> None:
    state = RedisSharedState(tenant="t", user_id="u")
    await state.set("s", {"a": 1, "b": 2})
    await state.set("s", {"c": 3})
    assert await state.get("s") == {"c": 3}
    assert await state.update("s", {"d": 4}) == {"c": 3, "d": 4}
    assert await state.delete_field("s", "c") == 1
    assert await state.get("s") == {"d": 4}


async def test_users_directory_and_search(backend: str) -> None:
    users = RedisUsers(tenant="shop")
    for i in range(30):
        await users.upsert(f"u{i}", {"email": f"{i}@x.io", "vip": i % 10 == 0})
    assert len(await users.list_user_ids()) == 30
    assert await users.find_by_field("email", "7@x.io") == {"email": "7@x.io", "vip": False}
    vips = await users.find_all_by_field("vip", True)
    assert sorted(v["email"] for v in vips) == ["0@x.io", "10@x.io", "20@x.io"]
    assert await users.delete("u0") == 1 and not await users.exists("u0")


async def test_table_rows(backend: str) -> None:
    tables = RedisTable(tenant="t")
    await tables.set("products", "p1", {"name": "W", "price": 1})
    assert await tables.upsert("products", "p1", {"price": 2}) is True
    assert await tables.update("products", "p1", {"stock": 0}) == {
        "name": "W",
        "price": 2,
        "stock": 0,
    }
    assert await tables.find_by_field("products", "price", 2) == await tables.get("products", "p1")
    await tables.set("products", "p:2", {"name": "V"})
    assert await tables.list_pkids("products") == ["p1", "p:2"]
    assert await tables.delete_table("products") == 2


async def test_batch_queue_and_pending(backend: str) -> None:
    a, b = RedisBatch(tenant="ta"), RedisBatch(tenant="tb")
    await asyncio.gather(*(a.enqueue("mail", "daily", "send", {"n": i}) for i in range(150)))
    await b.enqueue("mail", "daily", "send", {"n": 0})
    assert await RedisBatch.get_pending_tenants("mail") == {"ta", "tb"}
    first = await a.get_chunk("mail", "daily", "send", 0, 99)
    assert len(first) == 100 and sorted(
        x["n"] for x in first + await a.get_chunk("mail", "daily", "send", 100, -1)
    ) == list(range(150))
    await a.trim("mail", "daily", "send", 100, -1)
    assert await a.get_length("mail", "daily", "send") == 50
    assert await b.get_length("mail", "daily", "send") == 1
    assert await RedisBatch.remove_from_pending("mail", "ta") == 1
    assert await RedisBatch.remove_from_pending("mail", "ta") == 0


async def test_triggers(backend: str) -> None:
    triggers = RedisTrigger(tenant="t")
    await triggers.set("remind", "u:1", ttl_seconds=60)
    await triggers.set("cleanup", "u:1", ttl_seconds=60)
    await triggers.set("remind", "u:10", ttl_seconds=60)
    assert await triggers.delete_all_by_identifier("u:1") == 2
    assert await triggers.exists("remind", "u:10")
    with pytest.raises(InvalidKeyPartError, match="ttl_seconds"):
        await triggers.set("remind", "u", ttl_seconds=0)
    key = triggers.key("remind", "u:10")
    keys = KeyFactory()
    assert keys.parse_trigger(key) == ("t", "remind", "u:10")
    assert keys.parse_trigger(keys.trigger_claim(key)) is None


async def test_generic_values(backend: str) -> None:
    generic = RedisGeneric(tenant="t")
    await generic.set("flag", True)
    await generic.set("one", 1, ex=60)
    await generic.set("text:1", "1")
    await generic.set(
        "profile", Profile(name="n", active=True, born=datetime(2020, 1, 1, tzinfo=UTC))
    )
    assert await generic.get("flag") is True
    assert await generic.get("one") == 1 and await generic.get("one") is not True
    assert await generic.get("text:1") == "1"
    assert (await generic.get("profile", model=Profile)).active is True
    assert 55 <= await generic.get_ttl(generic.key("one")) <= 60
    assert await generic.get_ttl(generic.key("flag")) == -1  # 1.4: no expiry unless ex=
    assert await generic.keys_matching("text*") == ["text:1"]
    assert await generic.increment("hits", 5) == 5
    assert await generic.delete_pattern("*") == 5
    assert json.loads(json.dumps(await generic.keys_matching())) == []


async def test_stored_text_that_is_not_json_stays_text(backend: str) -> None:
    batch = RedisBatch(tenant="t")
    await batch.enqueue("svc", "b", "a", {"ok": 1})
    await RedisClient.get("handlers").rpush(batch.key("svc", "b", "a"), "{not json")
    assert await batch.get_chunk("svc", "b", "a") == [{"ok": 1}, "{not json"]  # as 1.4 read it
    user = RedisUser(tenant="t", user_id="raw")
    await RedisClient.get("user").hset(user.key(), mapping={"odd": "[1, 2", "n": "12"})
    assert await user.get() == {"odd": "[1, 2", "n": 12}  # text that is not JSON stays text
    with pytest.raises(StoredValueError, match="list"):
        await user.append_to_list("odd", 3)


async def test_large_values_round_trip(backend: str) -> None:
    state = RedisSharedState(tenant="t", user_id="big")
    text = "x" * 2_000_000
    items = list(range(50_000))
    await state.set("doc", {"text": text, "items": items})
    assert await state.get("doc") == {"text": text, "items": items}


def test_settings_never_show_passwords() -> None:
    from mimeiapify.symphony_ai.redis.redis_client import RedisSettings

    settings = RedisSettings.build("redis://user:s3cret@cache:6379/0")
    assert "s3cret" not in repr(settings) and "user:***@cache" in repr(settings)
