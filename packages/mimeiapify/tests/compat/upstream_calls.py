# ruff: noqa: E501  (a catalogue of calls, one per line, reads best unwrapped)
"""A catalogue of calls written the way mimeiapify 1.4.3's users write them.

Nothing here uses an API that 1.4.3 lacks, so the same catalogue runs against
our package (``test_upstream_calls.py``) and, by hand, against a copy of 1.4.3
(import it first on ``sys.path``) to compare result shapes side by side. Each
``*_calls`` function returns ``[(name, result_or_exception), ...]`` in order;
:func:`shape` reduces a result to its type structure (ids and times vary, their
types do not).

Clients reach the emulators by configuration: our package reads
``AIRTABLE_API_URL`` / ``WOMPI_API_URL`` / ``WOMPI_CHECKOUT_URL`` (set by the
caller); 1.4.3's clients have the public URLs built in, so :func:`_point` also
sets the attributes they keep them in (our clients ignore those).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Result = tuple[str, Any]


@dataclass
class Airtable14:
    api_url: str  # http://host:port/v0
    base_id: str
    table_id: str
    api_key: str = "pat_compat_token"


@dataclass
class Wompi14:
    api_url: str  # http://host:port/v1
    checkout_url: str  # http://host:port/p/
    public_key: str
    private_key: str
    integrity_key: str
    events_secret: str
    transaction_id: str
    reference: str
    signed_event: dict[str, Any]


def shape(value: Any, depth: int = 0) -> Any:
    """The type structure of a result: dict keys, list item kinds, DataFrame columns."""
    if isinstance(value, BaseException):
        return f"raises {type(value).__name__}"
    if type(value).__name__ == "DataFrame":
        return {"DataFrame": sorted(map(str, value.columns)), "rows": len(value)}
    if depth > 4:
        return type(value).__name__
    if isinstance(value, dict):
        return {
            _key_kind(k): shape(v, depth + 1)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
        return {
            type(value).__name__: len(items),
            "item": shape(items[0], depth + 1) if items else None,
        }
    return type(value).__name__


_AIRTABLE_ID = re.compile(r"(app|tbl|fld|rec|att)[A-Za-z0-9]{14}")


def _key_kind(key: Any) -> str:
    """Airtable ids as keys (fields by id) differ per base; their kind does not."""
    text = str(key)
    return f"<{text[:3]} id>" if _AIRTABLE_ID.fullmatch(text) else text


def _quiet(fn: Callable[[], Any]) -> Any:
    """1.4.3 prints progress lines; keep them out of the caller's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


async def _quiet_async(coro: Awaitable[Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return await coro


def _point(client: Any, api_url: str) -> Any:
    """1.4.3 keeps Airtable's URLs in attributes; aim them at the emulator."""
    base_id = client.base_id
    client.api_base_url = api_url
    client.meta_url = f"{api_url}/meta/bases/{base_id}"
    client.record_url = f"{api_url}/{base_id}"
    client.content_url = f"{api_url}/{base_id}"
    return client


def _record(results: list[Result], name: str, fn: Callable[[], Any]) -> Any:
    try:
        value = _quiet(fn)
    except Exception as exc:
        value = exc
    results.append((name, value))
    return value


async def _arecord(results: list[Result], name: str, coro: Awaitable[Any]) -> Any:
    try:
        value = await _quiet_async(coro)
    except Exception as exc:
        value = exc
    results.append((name, value))
    return value


def _first_id(created: Any) -> str:
    return str(created[0]["id"])


# ---------------------------------------------------------------- Airtable, sync


def airtable_sync_calls(ctx: Airtable14) -> list[Result]:
    from mimeiapify import Airtable
    from mimeiapify.airtable.airtable import Airtable as AirtableByPath

    out: list[Result] = []
    at = _point(Airtable(ctx.base_id, ctx.api_key), ctx.api_url)
    kw = _point(Airtable(base_id=ctx.base_id, api_key=ctx.api_key), ctx.api_url)
    out.append(("import mimeiapify.airtable.airtable", AirtableByPath is Airtable))
    out.append(("attributes base_id/api_key/headers", [at.base_id, at.api_key, at.headers]))
    schema = _record(out, "get_schema()", at.get_schema)
    _record(out, "extract_table_ids(schema)", lambda: at.extract_table_ids(schema))
    _record(out, "create_fields(table, [field])",
            lambda: at.create_fields(ctx.table_id, [{"name": "Notes", "type": "multilineText"}]))  # fmt: skip
    fields = at.get_schema()["tables"][0]["fields"]
    notes = next(f["id"] for f in fields if f["name"] == "Notes")
    _record(out, "update_field(table, column, name)",
            lambda: at.update_field(ctx.table_id, notes, "Comments"))  # fmt: skip
    _record(out, "update_field(table_id=, column_id=, description=)",
            lambda: kw.update_field(table_id=ctx.table_id, column_id=notes, description="free"))  # fmt: skip
    one = _record(out, "create_records(table, one dict)",
                  lambda: at.create_records(ctx.table_id, {"fields": {"Name": "solo", "Hours": 1}}))  # fmt: skip
    many = _record(out, "create_records(table, list, typecast positional)",
                   lambda: at.create_records(ctx.table_id, [{"fields": {"Name": f"r{i}", "Hours": str(i)}} for i in range(12)], True))  # fmt: skip
    _record(out, "create_records(table_id=, records=, typecast=, return_fields_by_field_id=)",
            lambda: kw.create_records(table_id=ctx.table_id, records=[{"fields": {"Name": "by-id"}}],
                                      typecast=False, return_fields_by_field_id=True))  # fmt: skip
    _record(out, "fetch_records(table)", lambda: at.fetch_records(ctx.table_id))
    _record(out, "fetch_records(table, True)", lambda: at.fetch_records(ctx.table_id, True))
    _record(out, "fetch_records(table_id=, json_format=False)",
            lambda: kw.fetch_records(table_id=ctx.table_id, json_format=False))  # fmt: skip
    _record(out, "fetch_filtered_records(table, formula)",
            lambda: at.fetch_filtered_records(ctx.table_id, "{Hours} > 5"))  # fmt: skip
    _record(out, "fetch_filtered_records(table, formula, True)",
            lambda: at.fetch_filtered_records(ctx.table_id, "{Name} = 'solo'", True))  # fmt: skip
    _record(out, "fetch_filtered_records(table_id=, filter_formula=, json_format=)",
            lambda: kw.fetch_filtered_records(table_id=ctx.table_id, filter_formula="{Name}='none'", json_format=True))  # fmt: skip
    rid = _first_id(one)
    _record(out, "update_single_record(table, id, fields)",
            lambda: at.update_single_record(ctx.table_id, rid, {"Hours": 2}))  # fmt: skip
    _record(out, "update_single_record(table, id, fields, True, False)",
            lambda: at.update_single_record(ctx.table_id, rid, {"Hours": "3"}, True, False))  # fmt: skip
    _record(out, "update_single_record(..., typecast=, return_fields_by_field_id=)",
            lambda: kw.update_single_record(table_id=ctx.table_id, record_id=rid, fields={"Hours": 4},
                                            typecast=False, return_fields_by_field_id=True))  # fmt: skip
    _record(out, "update_multiple_records(table, [{id, fields}])",
            lambda: at.update_multiple_records(ctx.table_id, [{"id": r["id"], "fields": {"Status": "Done"}} for r in many[:11]]))  # fmt: skip
    _record(out, "update_multiple_records(table, recs, False, False, True, [merge])",
            lambda: at.update_multiple_records(ctx.table_id, [{"fields": {"Name": "solo", "Hours": 9}}, {"fields": {"Name": "new", "Hours": 1}}],
                                               False, False, True, ["Name"]))  # fmt: skip
    _record(out, "update_multiple_records(..., perform_upsert=, fields_to_merge_on=)",
            lambda: kw.update_multiple_records(table_id=ctx.table_id, records=[{"fields": {"Name": "new", "Hours": 2}}],
                                               perform_upsert=True, fields_to_merge_on=["Name"]))  # fmt: skip
    _record(out, "upload_attachment(record, field, type, bytes, name)",
            lambda: at.upload_attachment(rid, "Files", "text/plain", b"hello", "hello.txt"))  # fmt: skip
    _record(out, "upload_attachment(record_id=, attachment_field=, ...)",
            lambda: kw.upload_attachment(record_id=rid, attachment_field="Files", content_type="image/png",
                                         file_bytes=b"\x89PNG", filename="x.png"))  # fmt: skip
    _record(
        out, "delete_single_record(table, id)", lambda: at.delete_single_record(ctx.table_id, rid)
    )
    _record(out, "delete_multiple_records(table, 'rec...')",
            lambda: at.delete_multiple_records(ctx.table_id, many[0]["id"]))  # fmt: skip
    _record(out, "delete_multiple_records(table_id=, record_ids=[...])",
            lambda: kw.delete_multiple_records(table_id=ctx.table_id, record_ids=[r["id"] for r in many[1:]]))  # fmt: skip
    return out


# ---------------------------------------------------------------- Airtable, async


async def airtable_async_calls(ctx: Airtable14) -> list[Result]:
    import aiohttp

    from mimeiapify import AirtableAsync
    from mimeiapify.airtable import AirtableAsync as FromPackage
    from mimeiapify.airtable.airtable_async import AirtableAsync as FromModule

    out: list[Result] = []
    out.append(
        ("import mimeiapify.airtable(.airtable_async)", FromPackage is FromModule is AirtableAsync)
    )
    at = _point(AirtableAsync(ctx.base_id, ctx.api_key), ctx.api_url)
    schema = await _arecord(out, "get_schema()", at.get_schema())
    await _arecord(out, "extract_table_ids(schema)", at.extract_table_ids(schema))
    await _arecord(out, "create_fields(table, field)",
                   at.create_fields(ctx.table_id, {"name": "Due", "type": "date"}))  # fmt: skip
    fields = (await at.get_schema())["tables"][0]["fields"]
    due = next(f["id"] for f in fields if f["name"] == "Due")
    await _arecord(out, "update_field(table, column, name, description)",
                   at.update_field(ctx.table_id, due, "Deadline", "when"))  # fmt: skip
    async with AirtableAsync(ctx.base_id, ctx.api_key) as ctxm:
        _point(ctxm, ctx.api_url)
        created = await _arecord(out, "async with: create_records(table, list)",
                                 ctxm.create_records(ctx.table_id, [{"fields": {"Name": f"a{i}", "Hours": i}} for i in range(3)]))  # fmt: skip
        await _arecord(out, "async with: fetch_records(table)", ctxm.fetch_records(ctx.table_id))
    async with aiohttp.ClientSession() as session:
        shared = _point(AirtableAsync(ctx.base_id, ctx.api_key, session=session), ctx.api_url)
        await _arecord(out, "session=: fetch_records(table, json_format=True)",
                       shared.fetch_records(ctx.table_id, json_format=True))  # fmt: skip
        await _arecord(out, "session=: fetch_filtered_records(table, formula)",
                       shared.fetch_filtered_records(ctx.table_id, "{Hours} >= 1"))  # fmt: skip
    rid = _first_id(created)
    await _arecord(out, "update_single_record(table, id, fields, typecast=True)",
                   at.update_single_record(ctx.table_id, rid, {"Hours": "7"}, typecast=True))  # fmt: skip
    await _arecord(out, "update_multiple_records(table, recs)",
                   at.update_multiple_records(ctx.table_id, [{"id": rid, "fields": {"Done": True}}]))  # fmt: skip
    await _arecord(out, "update_multiple_records(upsert)",
                   at.update_multiple_records(ctx.table_id, [{"fields": {"Name": "a1", "Hours": 10}}],
                                              perform_upsert=True, fields_to_merge_on=["Name"]))  # fmt: skip
    await _arecord(out, "upload_attachment(record, field, type, bytes, name)",
                   at.upload_attachment(rid, "Files", "text/plain", b"hi", "hi.txt"))  # fmt: skip
    await _arecord(
        out, "delete_single_record(table, id)", at.delete_single_record(ctx.table_id, rid)
    )
    await _arecord(out, "delete_multiple_records(table, [ids])",
                   at.delete_multiple_records(ctx.table_id, [r["id"] for r in created[1:]]))  # fmt: skip
    await at.close()
    return out


# ---------------------------------------------------------------- Wompi


def _wompi(cls: Any, ctx: Wompi14, *args: Any, **kwargs: Any) -> Any:
    client = cls(*args, **kwargs)
    client.api_url = ctx.api_url  # 1.4.3 keeps its URLs in attributes
    client.base_url = ctx.checkout_url
    return client


async def wompi_calls(ctx: Wompi14) -> list[Result]:
    import aiohttp

    from mimeiapify import WompiAsync
    from mimeiapify.wompi import WompiAsync as FromPackage
    from mimeiapify.wompi.wompi_async import WompiAsync as FromModule

    out: list[Result] = []
    out.append(("import mimeiapify.wompi(.wompi_async)", FromPackage is FromModule is WompiAsync))
    w = _wompi(WompiAsync, ctx, ctx.public_key, ctx.private_key, ctx.integrity_key)
    kw = _wompi(WompiAsync, ctx, public_key=ctx.public_key, private_key=ctx.private_key,
                integrity_key=ctx.integrity_key, environment="sandbox")  # fmt: skip
    out.append(
        ("attributes public/private/integrity keys", [w.public_key, w.private_key, w.integrity_key])
    )
    out.append(("environment from a pub_test_ key (none given)", w.environment))
    out.append(("generate_reference()", w.generate_reference()))
    await _arecord(out, "generate_checkout_url(amount)", w.generate_checkout_url(15000))
    await _arecord(out, "generate_checkout_url(amount, reference, currency)",
                   w.generate_checkout_url(15000, "INV-1", "COP"))  # fmt: skip
    await _arecord(out, "generate_checkout_url(every keyword)",
                   kw.generate_checkout_url(
                       amount_in_cents=25000, reference="INV-2", currency="COP",
                       redirect_url="https://shop.example/ok", expiration_time="2099-01-01T00:00:00+00:00",
                       tax_vat_in_cents=1900, tax_consumption_in_cents=800,
                       customer_data={"email": "a@b.co", "full-name": "Ana"},
                       shipping_address={"address-line-1": "Calle 1", "country": "CO", "city": "Cali",
                                         "phone-number": "3001234567", "region": "Valle"},
                       collect_shipping=True, collect_customer_legal_id=True))  # fmt: skip
    await _arecord(out, "get_transaction(id)", w.get_transaction(ctx.transaction_id))
    await _arecord(
        out, "get_transaction_by_reference(ref)", w.get_transaction_by_reference(ctx.reference)
    )
    await _arecord(
        out, "get_transaction_by_reference(unknown)", w.get_transaction_by_reference("nope-404")
    )
    async with _wompi(
        WompiAsync, ctx, ctx.public_key, ctx.private_key, ctx.integrity_key
    ) as scoped:
        scoped.api_url = ctx.api_url
        await _arecord(
            out, "async with: get_transaction(id)", scoped.get_transaction(ctx.transaction_id)
        )
    async with aiohttp.ClientSession() as session:
        shared = _wompi(WompiAsync, ctx, ctx.public_key, ctx.private_key, ctx.integrity_key,
                        session=session)  # fmt: skip
        await _arecord(out, "session=: get_transaction_by_reference(ref)",
                       shared.get_transaction_by_reference(ctx.reference))  # fmt: skip
    tampered = {**ctx.signed_event, "timestamp": int(ctx.signed_event["timestamp"]) + 1}
    out.append(("verify_webhook_event(event, secret)",
                WompiAsync.verify_webhook_event(ctx.signed_event, ctx.events_secret)))  # fmt: skip
    out.append(
        ("verify_webhook_event(event, '')", WompiAsync.verify_webhook_event(ctx.signed_event, ""))
    )
    out.append(("verify_webhook_event(tampered, secret)",
                WompiAsync.verify_webhook_event(tampered, ctx.events_secret)))  # fmt: skip
    out.append(("verify_webhook_event('not a dict', secret)",
                WompiAsync.verify_webhook_event("not a dict", ctx.events_secret)))  # type: ignore[arg-type]  # fmt: skip
    out.append(("instance verify_webhook_event(event_data=, events_secret=)",
                w.verify_webhook_event(event_data=ctx.signed_event, events_secret=ctx.events_secret)))  # fmt: skip
    return out


# ---------------------------------------------------------------- symphony_ai on Redis


def _strip(value: Any, tenant: str) -> Any:
    """Key strings with the tenant replaced, so runs with different tenants compare."""
    if isinstance(value, str):
        return value.replace(tenant, "{T}")
    if isinstance(value, tuple | list):
        return [_strip(v, tenant) for v in value]
    return value


async def redis_calls(redis_url: Any, tenant: str, service: str, tmp_dir: str) -> list[Result]:
    """1.4's runtime and repositories; ``tenant`` and ``service`` should be unique to the run."""
    from pydantic import BaseModel

    from mimeiapify.symphony_ai import GlobalSymphony, GlobalSymphonyConfig
    from mimeiapify.symphony_ai.redis import RedisClient
    from mimeiapify.symphony_ai.redis.listeners import expiration_registry, run_expiry_listener
    from mimeiapify.symphony_ai.redis.redis_handler import (
        RedisBatch,
        RedisGeneric,
        RedisSharedState,
        RedisStateHandler,
        RedisTable,
        RedisTrigger,
        RedisUser,
    )
    from mimeiapify.symphony_ai.redis.redis_handler.utils import KeyFactory, dumps, loads
    from mimeiapify.symphony_ai.redis.redis_handler.utils.serde import dumps_hash, loads_hash
    from mimeiapify.symphony_ai.symphony_concurrency.pubsub import publish_json, subscribe
    from mimeiapify.utils import helper_functions, setup_logging

    class Flags(BaseModel):
        name: str
        active: bool

    out: list[Result] = []
    rec = out.append
    sym = await GlobalSymphony.create(cfg=GlobalSymphonyConfig(redis_url=redis_url, workers_user=8))
    try:
        rec(("GlobalSymphony.create(cfg=...) is get()", sym is GlobalSymphony.get()))
        rec(("await RedisClient.get('user').ping()", await (await RedisClient.get("user")).ping()))
        async with RedisClient.connection("handlers") as conn:
            rec(("async with RedisClient.connection('handlers')", await conn.ping()))
        shared_db = (
            await RedisClient.get("symphony_shared_state")
        ).connection_pool.connection_kwargs["db"]
        rec(("alias symphony_shared_state db", shared_db))

        keys = KeyFactory()
        for name, key in (
            ("KeyFactory().user", keys.user(tenant, "573001234567")),
            ("KeyFactory().handler", keys.handler(tenant, "chat", "u1")),
            ("KeyFactory().shared_state", keys.shared_state(tenant, "conversation", "u1")),
            ("KeyFactory().table", keys.table(tenant, "orders", "o1")),
            ("KeyFactory().trigger", keys.trigger(tenant, "remind", "u1")),
            ("KeyFactory().batch_list", keys.batch_list(tenant, "wa", "inbox", "send")),
            ("KeyFactory().pending_set", keys.pending_set("wa")),
        ):
            rec((name, _strip(key, tenant)))
        rec(
            (
                "KeyFactory().parse_trigger",
                _strip(keys.parse_trigger(keys.trigger(tenant, "remind", "u1")), tenant),
            )
        )
        rec(
            (
                "KeyFactory().is_trigger_key",
                keys.is_trigger_key(keys.trigger(tenant, "remind", "u1")),
            )
        )

        for value in (True, False, "text", {"a": [1, True]}, None, 2.5, 42):
            rec((f"dumps({value!r})", dumps(value)))
        for raw in ("1", "0", '{"a": 1}', "plain", "null", "42"):
            rec((f"loads({raw!r})", loads(raw)))
        rec(("loads(json, model=)", loads('{"name": "x", "active": "1"}', model=Flags)))
        rec(("dumps_hash(mapping)", dumps_hash({"a": "x", "b": {"k": 1}})))
        rec(("loads_hash(mapping)", loads_hash({"a": "x", "b": '{"k": 1}'})))
        rec(("loads_hash(None)", loads_hash(None)))

        user = RedisUser(tenant=tenant, user_id="u1")
        ukey = keys.user(tenant, "u1")
        calls: list[tuple[str, Awaitable[Any]]] = [
            ("RedisUser.upsert(data)", user.upsert({"name": "Ana", "score": 10, "vip": True})),
            ("RedisUser.get()", user.get()),
            ("RedisUser.get_field(name)", user.get_field("name")),
            ("RedisUser.update_field(f, v)", user.update_field("city", "Cali")),
            ("RedisUser.update_field(f, v, ttl)", user.update_field("city", "Bogota", 600)),
            ("RedisUser.increment_field(f)", user.increment_field("score")),
            (
                "RedisUser.increment_field(f, increment=5)",
                user.increment_field("score", increment=5),
            ),
            ("RedisUser.append_to_list(f, v)", user.append_to_list("tags", "a")),
            ("RedisUser.append_to_list(f, v) again", user.append_to_list("tags", "b")),
            ("RedisUser.get_field(list)", user.get_field("tags")),
            ("RedisUser.exists()", user.exists()),
            ("RedisUser.find_by_field(f, v)", user.find_by_field("name", "Ana")),
            ("TenantCache.key_exists(key)", user.key_exists(ukey)),
            ("TenantCache.get_ttl(key)", user.get_ttl(ukey)),
            ("TenantCache.renew_ttl(key)", user.renew_ttl(ukey)),
            ("TenantCache.renew_ttl(key, ttl)", user.renew_ttl(ukey, 100)),
            ("RedisUser.delete_field(f)", user.delete_field("city")),
            ("TenantCache.delete_key(key)", user.delete_key(ukey)),
            ("RedisUser.exists() after delete", user.exists()),
        ]
        ss = RedisSharedState(tenant=tenant, user_id="u1")
        calls += [
            ("RedisSharedState.upsert(state, data)", ss.upsert("conv", {"step": 1, "lang": "es"})),
            ("RedisSharedState.get(state)", ss.get("conv")),
            ("RedisSharedState.get_field(state, f)", ss.get_field("conv", "step")),
            ("RedisSharedState.update_field(state, f, v)", ss.update_field("conv", "step", 2)),
            (
                "RedisSharedState.update_field(state, f, v, ttl)",
                ss.update_field("conv", "step", 3, 600),
            ),
            ("RedisSharedState.delete_field(state, f)", ss.delete_field("conv", "lang")),
            ("RedisSharedState.exists(state)", ss.exists("conv")),
            ("RedisSharedState.list_states()", ss.list_states()),
            ("RedisSharedState.clear_all_states()", ss.clear_all_states()),
            ("RedisSharedState.delete(state)", ss.delete("conv")),
        ]
        handler = RedisStateHandler(tenant=tenant, user_id="u1")
        calls += [
            (
                "RedisStateHandler.upsert(name, data, ttl)",
                handler.upsert("chat", {"step": 1}, 3600),
            ),
            ("RedisStateHandler.get(name)", handler.get("chat")),
            ("RedisStateHandler.get(name, models)", handler.get("chat", None)),
            ("RedisStateHandler.get_field(name, f)", handler.get_field("chat", "step")),
            ("RedisStateHandler.update_field(name, f, v)", handler.update_field("chat", "step", 2)),
            ("RedisStateHandler.increment_field(name, f)", handler.increment_field("chat", "step")),
            (
                "RedisStateHandler.append_to_list(name, f, v)",
                handler.append_to_list("chat", "hist", "hi"),
            ),
            ("RedisStateHandler.merge(name, data)", handler.merge("chat", {"lang": "es"})),
            ("RedisStateHandler.exists(name)", handler.exists("chat")),
            ("RedisStateHandler.delete(name)", handler.delete("chat")),
        ]
        tables = RedisTable(tenant=tenant)
        calls += [
            (
                "RedisTable.upsert(t, pk, data)",
                tables.upsert("orders", "o1", {"total": 10, "status": "new"}),
            ),
            ("RedisTable.get(t, pk)", tables.get("orders", "o1")),
            ("RedisTable.get_field(t, pk, f)", tables.get_field("orders", "o1", "status")),
            (
                "RedisTable.update_field(t, pk, f, v)",
                tables.update_field("orders", "o1", "status", "paid"),
            ),
            (
                "RedisTable.increment_field(t, pk, f, increment=)",
                tables.increment_field("orders", "o1", "total", increment=5),
            ),
            (
                "RedisTable.append_to_list(t, pk, f, v)",
                tables.append_to_list("orders", "o1", "log", "paid"),
            ),
            ("RedisTable.find_by_field(t, f, v)", tables.find_by_field("orders", "status", "paid")),
            ("RedisTable.exists(t, pk)", tables.exists("orders", "o1")),
            ("RedisTable.delete_all_by_pkid(pk)", tables.delete_all_by_pkid("o1")),
            ("RedisTable.delete(t, pk)", tables.delete("orders", "o1")),
        ]
        batch = RedisBatch(tenant=tenant)
        calls += [
            (
                "RedisBatch.enqueue(svc, entity, action, dict)",
                batch.enqueue(service, "inbox", "send", {"m": 1}),
            ),
            (
                "RedisBatch.enqueue(svc, entity, action, text)",
                batch.enqueue(service, "inbox", "send", "raw text"),
            ),
            (
                "RedisBatch.get_chunk(svc, entity, action)",
                batch.get_chunk(service, "inbox", "send"),
            ),
            ("RedisBatch.get_length(...)", batch.get_length(service, "inbox", "send")),
            ("RedisBatch.trim(..., 1, -1)", batch.trim(service, "inbox", "send", 1, -1)),
            ("RedisBatch.get_pending_tenants(svc)", RedisBatch.get_pending_tenants(service)),
            (
                "RedisBatch.remove_from_pending(svc, tenant)",
                RedisBatch.remove_from_pending(service, tenant),
            ),
        ]
        triggers = RedisTrigger(tenant=tenant)
        calls += [
            ("RedisTrigger.set(action, id, ttl)", triggers.set("remind", "u1", 60)),
            ("RedisTrigger.set(..., ttl_seconds=)", triggers.set("remind", "u2", ttl_seconds=60)),
            ("RedisTrigger.delete(action, id)", triggers.delete("remind", "u1")),
            ("RedisTrigger.delete_all_by_identifier(id)", triggers.delete_all_by_identifier("u2")),
        ]
        generic = RedisGeneric(tenant=tenant)
        calls += [
            ("RedisGeneric.set(key, value)", generic.set("cfg", {"a": 1})),
            ("RedisGeneric.set(key, value, ex=)", generic.set("tmp", "v", ex=60)),
            ("RedisGeneric.get(key)", generic.get("cfg")),
            ("RedisGeneric.get(key, model=)", generic.get("flags", model=Flags)),
            ("RedisGeneric.delete(key)", generic.delete("cfg")),
        ]
        calls += _ops_calls(tenant)
        for name, coro in calls:
            await _arecord(out, name, coro)
        await generic.delete("tmp")
        out[:] = [
            (n, v if not isinstance(v, set) else {_strip(x, tenant) for x in v}) for n, v in out
        ]

        # the pools: a burst of 200 requests, each waiting for a worker
        def work(i: int) -> int:
            threading.Event().wait(0.01)
            return i

        pool = GlobalSymphony.get().pool_user
        burst = await asyncio.gather(
            *(asyncio.wrap_future(pool.submit(work, i)) for i in range(200)), return_exceptions=True
        )
        rec(("200 concurrent pool_user.submit", sum(1 for r in burst if isinstance(r, int))))

        # pub/sub
        async def first_message() -> Any:
            async for frame in subscribe(f"{tenant}:run"):
                return frame
            return None

        reader = asyncio.create_task(first_message())
        await asyncio.sleep(0.3)
        await publish_json(f"{tenant}:run", {"delta": "Hel"})
        rec(("publish_json + subscribe", await asyncio.wait_for(reader, 10)))

        # expiry triggers, registered the 1.4 way
        fired: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        action = f"compat_{service}"

        @expiration_registry.on_expire_action(action)
        async def on_expire(identifier: str, full_key: str) -> None:
            await fired.put((identifier, _strip(full_key, tenant)))

        listener = asyncio.create_task(run_expiry_listener(alias="expiry"))
        await asyncio.sleep(0.5)
        await RedisTrigger(tenant=tenant).set(action, "u9", 1)
        try:
            rec(("expiry handler(identifier, full_key)", await asyncio.wait_for(fired.get(), 10)))
        except TimeoutError as exc:
            rec(("expiry handler(identifier, full_key)", exc))
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

        # Agency-Swarm tools and thread persistence, from a worker thread
        await _arecord(out, "AsyncBaseTool with only _arun, helpers", _tool_calls(tenant))
        await _arecord(out, "UserThreads", _user_threads_calls(tenant))

        _record(out, "setup_logging(level=, mode=DEV, log_dir=)",
                lambda: setup_logging(level="INFO", mode="DEV", log_dir=tmp_dir))  # fmt: skip
        rec(("helper_functions.robust_clean_text",
             helper_functions.robust_clean_text("  ## Title\n\n\n  **bold**   text  ")))  # fmt: skip
        rec(("helper_functions.format_date_friendly",
             helper_functions.format_date_friendly("2025-01-16T03:04:09.000Z", "America/Bogota")))  # fmt: skip
        moment = helper_functions.parse_datetime_to_target_tz(
            "2025-01-16T15:04:09Z", "America/Bogota"
        )
        rec(
            ("helper_functions.parse_datetime_to_target_tz", moment.isoformat() if moment else None)
        )
        rec(("helper_functions.datetime_to_iso_string",
             helper_functions.datetime_to_iso_string(dt.datetime(2025, 1, 2, tzinfo=dt.UTC))))  # fmt: skip
    finally:
        await GlobalSymphony.shutdown()
    return out


def _ops_calls(tenant: str) -> list[tuple[str, Awaitable[Any]]]:
    from mimeiapify.symphony_ai.redis import ops

    k1, k2, h, lst, st = (f"{tenant}:ops:{n}" for n in ("k1", "k2", "h", "list", "set"))

    async def scan_all() -> list[str]:
        cursor, found = "0", []
        while True:
            cursor, keys = await ops.scan_keys(f"{tenant}:ops:*", cursor, 1000)
            found += keys
            if str(cursor) == "0":
                return sorted(_strip(k, tenant) for k in found)

    return [
        ("ops.set(key, value, ex=)", ops.set(k1, "v", ex=60)),
        ("ops.get(key)", ops.get(k1)),
        ("ops.setex(key, seconds, value)", ops.setex(k2, 60, 5)),
        ("ops.exists(k1, k2)", ops.exists(k1, k2)),
        ("ops.expire(key, ttl)", ops.expire(k1, 30)),
        ("ops.get_ttl(key)", ops.get_ttl(k1)),
        ("ops.hset(key, field, value)", ops.hset(h, "a", "1")),
        ("ops.hset(key, mapping=)", ops.hset(h, mapping={"b": 2, "c": "x"})),
        ("ops.hset(key) without field or mapping", ops.hset(h)),
        ("ops.hget(key, field)", ops.hget(h, "a")),
        ("ops.hgetall(key)", ops.hgetall(h)),
        ("ops.hexists(key, field)", ops.hexists(h, "b")),
        ("ops.hincrby(key, field, 5)", ops.hincrby(h, "b", 5)),
        ("ops.hdel(key, *fields)", ops.hdel(h, "a", "c")),
        ("ops.hset_with_expire(key, mapping, ttl)", ops.hset_with_expire(h, {"d": "4"}, 60)),
        ("ops.hincrby_with_expire(key, field, n, ttl)", ops.hincrby_with_expire(h, "b", 1, 60)),
        ("ops.rpush(key, *values)", ops.rpush(lst, "a", "b", "c")),
        ("ops.lrange(key, 0, -1)", ops.lrange(lst, 0, -1)),
        ("ops.llen(key)", ops.llen(lst)),
        ("ops.lpop(key)", ops.lpop(lst)),
        ("ops.lpop(key, 2)", ops.lpop(lst, 2)),
        ("ops.ltrim(key, 0, 0)", ops.ltrim(lst, 0, 0)),
        ("ops.sadd(key, *members)", ops.sadd(st, "x", "y")),
        ("ops.smembers(key)", ops.smembers(st)),
        ("ops.srem(key, member)", ops.srem(st, "x")),
        ("ops.rpush_and_sadd(...)", ops.rpush_and_sadd(lst, ["z"], st, ["w"])),
        ("ops.rpush_and_sadd(empty)", ops.rpush_and_sadd(lst, [], st, ["w"])),
        ("ops.scan_keys(pattern) until done", scan_all()),
        ("ops.delete(*keys)", ops.delete(k1, k2, h, lst, st)),
    ]


async def _tool_calls(tenant: str) -> list[Any]:
    from pydantic import Field

    from mimeiapify.symphony_ai import GlobalSymphony
    from mimeiapify.symphony_ai.redis.context import _current_ss
    from mimeiapify.symphony_ai.redis.redis_handler import RedisSharedState
    from mimeiapify.symphony_ai.symphony_concurrency.tools import AsyncBaseTool

    class Remember(AsyncBaseTool):
        """Remember a step."""

        step: int = Field(..., description="step")

        async def _arun(self) -> str:
            await self.ss.upsert("flow", {"step": self.step})
            return f"stored {self.step}"

    def in_thread() -> list[Any]:
        tool = Remember(step=4)
        return [
            tool.run(),
            tool.get_state("flow"),
            tool.upsert_state("form", {"page": 1, "name": "x"}),
            tool.get_field("form", "page"),
            tool.update_field("form", "page", 2),
            tool.delete_field("form", "page"),
            tool.state_exists("flow"),
            sorted(tool.list_states()),
            tool.delete_state("flow"),
            tool.clear_all_states(),
        ]

    token = _current_ss.set(RedisSharedState(tenant=tenant, user_id="tool-user"))
    try:
        pool = GlobalSymphony.get().pool_tool
        return await asyncio.wrap_future(pool.submit(in_thread))
    finally:
        _current_ss.reset(token)


async def _user_threads_calls(tenant: str) -> list[Any]:
    from mimeiapify.symphony_ai import GlobalSymphony
    from mimeiapify.symphony_ai.symphony_concurrency.tools import UserThreads

    threads = UserThreads(tenant=tenant, user_id="u-threads")
    results: list[Any] = [await threads.load_threads()]
    await threads.save_threads({"main_thread": "th_1", "CEO": {"Coder": "th_2"}})
    results += [
        await threads.load_threads(),
        await threads.thread_exists(),
        await threads.get_thread_id("main_thread"),
    ]
    await threads.clear_specific_thread("CEO")

    def in_thread() -> Any:
        loaded = threads.sync_load_threads()
        threads.sync_save_threads({**loaded, "x": "th_3"})
        return threads.sync_load_threads()

    results.append(await asyncio.wrap_future(GlobalSymphony.get().pool_agent.submit(in_thread)))
    await threads.delete_threads()
    results.append(await threads.load_threads())
    return results


# ---------------------------------------------------------------- data across versions


async def redis_write_dataset(tenant: str, service: str) -> None:
    """Write one of each kind of record through 1.4's API (GlobalSymphony must run)."""
    from pydantic import BaseModel

    from mimeiapify.symphony_ai.redis.redis_handler import (
        RedisBatch,
        RedisGeneric,
        RedisSharedState,
        RedisStateHandler,
        RedisTable,
        RedisTrigger,
        RedisUser,
    )

    class Profile(BaseModel):
        name: str
        active: bool

    user = RedisUser(tenant=tenant, user_id="u1")
    await user.upsert(
        {"name": "Ana", "score": 10, "vip": True, "profile": Profile(name="Ana", active=True)}
    )
    await user.append_to_list("tags", "a")
    await user.append_to_list("tags", "b")
    await RedisSharedState(tenant=tenant, user_id="u1").upsert(
        "conversation", {"step": 2, "lang": "es"}
    )
    await RedisStateHandler(tenant=tenant, user_id="u1").upsert(
        "chat", {"step": 1, "topic": "billing"}
    )
    await RedisTable(tenant=tenant).upsert("orders", "o1", {"total": 10, "status": "new"})
    batch = RedisBatch(tenant=tenant)
    for item in ({"m": 1}, "raw text", 7):
        await batch.enqueue(service, "inbox", "send", item)
    await RedisGeneric(tenant=tenant).set("cfg", {"a": 1, "on": True})
    await RedisTrigger(tenant=tenant).set("remind", "u1", 600)


async def redis_read_dataset(tenant: str, service: str) -> list[Result]:
    """Read (then update and expire) what :func:`redis_write_dataset` wrote, through
    1.4's API; returns what each call gave."""
    from pydantic import BaseModel

    from mimeiapify.symphony_ai.redis.redis_handler import (
        RedisBatch,
        RedisGeneric,
        RedisSharedState,
        RedisStateHandler,
        RedisTable,
        RedisTrigger,
        RedisUser,
    )
    from mimeiapify.symphony_ai.redis.redis_handler.utils import KeyFactory

    class Profile(BaseModel):
        name: str
        active: bool

    keys = KeyFactory()
    user = RedisUser(tenant=tenant, user_id="u1")
    ss = RedisSharedState(tenant=tenant, user_id="u1")
    handler = RedisStateHandler(tenant=tenant, user_id="u1")
    tables = RedisTable(tenant=tenant)
    batch = RedisBatch(tenant=tenant)
    triggers = RedisTrigger(tenant=tenant)
    out: list[Result] = []
    calls: list[tuple[str, Awaitable[Any]]] = [
        ("user.get(models=profile)", user.get(models={"profile": Profile})),
        ("user.get_field(score)", user.get_field("score")),
        ("user.get_field(vip)", user.get_field("vip")),
        ("user.get_field(tags)", user.get_field("tags")),
        ("user.find_by_field(name)", user.find_by_field("name", "Ana")),
        ("user.find_by_field(score int)", user.find_by_field("score", 10)),
        ("shared_state.get", ss.get("conversation")),
        ("shared_state.list_states", ss.list_states()),
        ("handler.get", handler.get("chat")),
        ("handler.get_field (text)", handler.get_field("chat", "step")),
        ("table.get", tables.get("orders", "o1")),
        ("table.find_by_field", tables.find_by_field("orders", "status", "new")),
        ("batch.get_chunk", batch.get_chunk(service, "inbox", "send")),
        ("batch.get_length", batch.get_length(service, "inbox", "send")),
        ("batch tenant pending", _pending(RedisBatch, service, tenant)),
        ("generic.get", RedisGeneric(tenant=tenant).get("cfg")),
        ("trigger armed", triggers.key_exists(keys.trigger(tenant, "remind", "u1"))),
        ("user.update_field", user.update_field("city", "Cali")),
        ("user.increment_field", user.increment_field("score")),
        ("user.append_to_list", user.append_to_list("tags", "c")),
        ("shared_state.update_field", ss.update_field("conversation", "step", 3)),
        ("handler.merge keeps fields", _merged_keys(handler)),
        ("table.increment_field", tables.increment_field("orders", "o1", "total", increment=5)),
        ("batch.trim", batch.trim(service, "inbox", "send", 1, -1)),
        ("user.renew_ttl(key, 100)", user.renew_ttl(keys.user(tenant, "u1"), 100)),
        ("user ttl after renew", user.get_ttl(keys.user(tenant, "u1"))),
        ("user.get after updates", user.get()),
        ("trigger.delete", triggers.delete("remind", "u1")),
    ]
    for name, coro in calls:
        await _arecord(out, name, coro)
    return out


async def _pending(batch_class: Any, service: str, tenant: str) -> bool:
    return tenant in await batch_class.get_pending_tenants(service)


async def _merged_keys(handler: Any) -> list[str]:
    return sorted(await handler.merge("chat", {"lang": "es"}))
