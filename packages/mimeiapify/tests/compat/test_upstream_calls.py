# ruff: noqa: E501  (one expectation per catalogue call, on one line)
"""Every public call of mimeiapify 1.4.3, written as its users write it, against our package.

The catalogue (``upstream_calls``) holds the calls; here each result is checked
against what 1.4.3 returns for it (read from its source), with the differences
of the "coming from 1.4" table in the README noted where they apply.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from upstream_calls import (
    Airtable14,
    Wompi14,
    airtable_async_calls,
    airtable_sync_calls,
    redis_calls,
    shape,
    wompi_calls,
)

pytestmark = pytest.mark.integration

RECORD = {"createdTime": "str", "fields": "dict", "id": "str"}


def _record_shape(value: Any) -> bool:
    return isinstance(value, dict) and {"id", "createdTime", "fields"} <= set(value)


def _frame(value: Any, rows: int | None = None) -> bool:
    return (
        type(value).__name__ == "DataFrame"
        and "record_id" in value.columns
        and (rows is None or len(value) == rows)
        and all(str(r).startswith("rec") for r in value["record_id"])
    )


def _rows(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and list(value) == ["records"]
        and all("record_id" in row and "fields" not in row for row in value["records"])
    )


def _files(uploaded: Any) -> list[str]:
    (files,) = uploaded["fields"].values()
    return [f["filename"] for f in files]


def _check(results: list[tuple[str, Any]], expected: dict[str, Any]) -> None:
    got = dict(results)
    assert list(got) == list(expected), "the catalogue and the expectations list the same calls"
    failures = []
    for name, want in expected.items():
        value = got[name]
        ok = want(value) if callable(want) else value == want
        if isinstance(value, BaseException) or not ok:
            failures.append(f"{name}: {value!r} ({shape(value)})")
    assert not failures, "\n".join(failures)


def test_airtable_sync_calls(airtable14: Airtable14) -> None:
    ctx = airtable14
    _check(
        airtable_sync_calls(ctx),
        {
            "import mimeiapify.airtable.airtable": True,
            "attributes base_id/api_key/headers": [
                ctx.base_id,
                ctx.api_key,
                {"Authorization": f"Bearer {ctx.api_key}"},
            ],
            "get_schema()": lambda v: [t["name"] for t in v["tables"]] == ["Tasks"],
            "extract_table_ids(schema)": {"Tasks": ctx.table_id},
            # 1.4 printed and returned None; ours returns the created field
            "create_fields(table, [field])": lambda v: v[0]["name"] == "Notes",
            "update_field(table, column, name)": lambda v: v["name"] == "Comments",
            "update_field(table_id=, column_id=, description=)": lambda v: (
                v["description"] == "free"
            ),
            "create_records(table, one dict)": lambda v: len(v) == 1 and _record_shape(v[0]),
            "create_records(table, list, typecast positional)": lambda v: (
                len(v) == 12 and v[3]["fields"]["Hours"] == 3
            ),
            "create_records(table_id=, records=, typecast=, return_fields_by_field_id=)": lambda v: (
                all(k.startswith("fld") for k in v[0]["fields"])
            ),
            "fetch_records(table)": lambda v: _frame(v, 14) and {"Name", "Hours"} <= set(v.columns),
            "fetch_records(table, True)": lambda v: _rows(v) and len(v["records"]) == 14,
            "fetch_records(table_id=, json_format=False)": lambda v: _frame(v, 14),
            "fetch_filtered_records(table, formula)": lambda v: _frame(v, 6),
            "fetch_filtered_records(table, formula, True)": lambda v: (
                _rows(v) and [r["Name"] for r in v["records"]] == ["solo"]
            ),
            "fetch_filtered_records(table_id=, filter_formula=, json_format=)": {"records": []},
            "update_single_record(table, id, fields)": lambda v: v["fields"]["Hours"] == 2,
            "update_single_record(table, id, fields, True, False)": lambda v: (
                v["fields"]["Hours"] == 3
            ),
            "update_single_record(..., typecast=, return_fields_by_field_id=)": lambda v: all(
                k.startswith("fld") for k in v["fields"]
            ),
            "update_multiple_records(table, [{id, fields}])": lambda v: (
                len(v["records"]) == 11 and v["createdRecords"] == v["updatedRecords"] == []
            ),
            "update_multiple_records(table, recs, False, False, True, [merge])": lambda v: (
                len(v["createdRecords"]) == 1 and len(v["updatedRecords"]) == 1
            ),
            "update_multiple_records(..., perform_upsert=, fields_to_merge_on=)": lambda v: (
                v["createdRecords"] == [] and len(v["updatedRecords"]) == 1
            ),
            # Airtable answers an upload with the fields keyed by field id
            "upload_attachment(record, field, type, bytes, name)": lambda v: (
                _files(v) == ["hello.txt"]
            ),
            "upload_attachment(record_id=, attachment_field=, ...)": lambda v: (
                _files(v) == ["hello.txt", "x.png"]
            ),
            "delete_single_record(table, id)": True,
            "delete_multiple_records(table, 'rec...')": lambda v: len(v) == 1 and v[0]["deleted"],
            "delete_multiple_records(table_id=, record_ids=[...])": lambda v: len(v) == 11,
        },
    )


async def test_airtable_async_calls(airtable14: Airtable14) -> None:
    _check(
        await airtable_async_calls(airtable14),
        {
            "import mimeiapify.airtable(.airtable_async)": True,
            "get_schema()": lambda v: "tables" in v,
            "extract_table_ids(schema)": {"Tasks": airtable14.table_id},
            "create_fields(table, field)": lambda v: v[0]["type"] == "date",
            "update_field(table, column, name, description)": lambda v: (
                (v["name"], v["description"]) == ("Deadline", "when")
            ),
            "async with: create_records(table, list)": lambda v: len(v) == 3,
            "async with: fetch_records(table)": lambda v: _frame(v, 3),
            "session=: fetch_records(table, json_format=True)": lambda v: _rows(v),
            "session=: fetch_filtered_records(table, formula)": lambda v: _frame(v, 2),
            "update_single_record(table, id, fields, typecast=True)": lambda v: (
                v["fields"]["Hours"] == 7
            ),
            "update_multiple_records(table, recs)": lambda v: v["records"][0]["fields"]["Done"],
            "update_multiple_records(upsert)": lambda v: len(v["updatedRecords"]) == 1,
            "upload_attachment(record, field, type, bytes, name)": lambda v: (
                _files(v) == ["hi.txt"]
            ),
            "delete_single_record(table, id)": True,
            "delete_multiple_records(table, [ids])": lambda v: (
                [d["deleted"] for d in v] == [True, True]
            ),
        },
    )


async def test_wompi_calls(wompi14: Wompi14) -> None:
    ctx = wompi14

    def checkout(reference: str | None, **params: str) -> Any:
        def check(v: Any) -> bool:
            query = dict(parse_qsl(urlsplit(v["checkout_url"]).query))
            return (
                {"checkout_url", "reference"} <= set(v)
                and (reference is None or v["reference"] == reference)
                and query["public-key"] == ctx.public_key
                and len(query["signature:integrity"]) == 64
                and all(query[k] == want for k, want in params.items())
            )

        return check

    _check(
        await wompi_calls(ctx),
        {
            "import mimeiapify.wompi(.wompi_async)": True,
            "attributes public/private/integrity keys": [
                ctx.public_key,
                ctx.private_key,
                ctx.integrity_key,
            ],
            # 1.4 said "production" for any key it was not told about; the prefix decides here
            "environment from a pub_test_ key (none given)": "sandbox",
            "generate_reference()": lambda v: re.fullmatch("[0-9a-f]{32}", v) is not None,
            "generate_checkout_url(amount)": checkout(None, **{"amount-in-cents": "15000"}),
            "generate_checkout_url(amount, reference, currency)": checkout("INV-1", currency="COP"),
            "generate_checkout_url(every keyword)": checkout(
                "INV-2",
                **{
                    "redirect-url": "https://shop.example/ok",
                    "tax-in-cents:vat": "1900",
                    "customer-data:full-name": "Ana",
                    "shipping-address:city": "Cali",
                    "collect-shipping": "true",
                    "collect-customer-legal-id": "true",
                },
            ),
            "get_transaction(id)": lambda v: v["data"]["id"] == ctx.transaction_id,
            "get_transaction_by_reference(ref)": lambda v: (
                [t["id"] for t in v] == [ctx.transaction_id]
            ),
            "get_transaction_by_reference(unknown)": [],
            "async with: get_transaction(id)": lambda v: v["data"]["reference"] == ctx.reference,
            "session=: get_transaction_by_reference(ref)": lambda v: len(v) == 1,
            "verify_webhook_event(event, secret)": True,
            "verify_webhook_event(event, '')": False,
            "verify_webhook_event(tampered, secret)": False,
            "verify_webhook_event('not a dict', secret)": False,
            "instance verify_webhook_event(event_data=, events_secret=)": True,
        },
    )


async def test_symphony_calls(redis14: dict[str, Any], tmp_path: Path) -> None:
    results = await redis_calls(
        redis14["urls"], redis14["tenant"], redis14["service"], str(tmp_path)
    )
    _check(
        results,
        {
            "GlobalSymphony.create(cfg=...) is get()": True,
            "await RedisClient.get('user').ping()": True,
            "async with RedisClient.connection('handlers')": True,
            "alias symphony_shared_state db": redis14["dbs"]["symphony_shared_state"],
            # 1.4's key layout, byte for byte
            "KeyFactory().user": "{T}:user:573001234567",
            "KeyFactory().handler": "{T}:state:chat:u1",
            "KeyFactory().shared_state": "{T}:SS:conversation:u1",
            "KeyFactory().table": "{T}:df:orders:pkid:o1",
            "KeyFactory().trigger": "{T}:EXPTRIGGER:remind:u1",
            "KeyFactory().batch_list": "{T}:batch:wa:inbox:send",
            "KeyFactory().pending_set": "pending_batches:wa",
            "KeyFactory().parse_trigger": ["{T}", "remind", "u1"],
            "KeyFactory().is_trigger_key": True,
            "dumps(True)": "1",
            "dumps(False)": "0",
            "dumps('text')": "text",
            "dumps({'a': [1, True]})": '{"a":[1,true]}',
            "dumps(None)": "null",
            "dumps(2.5)": "2.5",
            "dumps(42)": "42",
            "loads('1')": True,
            "loads('0')": False,
            "loads('{\"a\": 1}')": {"a": 1},
            "loads('plain')": "plain",
            "loads('null')": None,
            "loads('42')": 42,
            "loads(json, model=)": lambda v: (v.name, v.active) == ("x", True),
            "dumps_hash(mapping)": {"a": "x", "b": '{"k":1}'},
            "loads_hash(mapping)": {"a": "x", "b": {"k": 1}},
            "loads_hash(None)": {},
            "RedisUser.upsert(data)": True,
            "RedisUser.get()": {"name": "Ana", "score": 10, "vip": True},
            "RedisUser.get_field(name)": "Ana",
            "RedisUser.update_field(f, v)": True,
            "RedisUser.update_field(f, v, ttl)": True,
            "RedisUser.increment_field(f)": 11,
            "RedisUser.increment_field(f, increment=5)": 16,
            "RedisUser.append_to_list(f, v)": True,
            "RedisUser.append_to_list(f, v) again": True,
            "RedisUser.get_field(list)": ["a", "b"],
            "RedisUser.exists()": True,
            "RedisUser.find_by_field(f, v)": lambda v: v["name"] == "Ana" and v["score"] == 16,
            "TenantCache.key_exists(key)": True,
            # every write restarts the day-long default (the 600 s write was not the last)
            "TenantCache.get_ttl(key)": lambda v: 86_390 <= v <= 86_400,
            "TenantCache.renew_ttl(key)": True,
            "TenantCache.renew_ttl(key, ttl)": True,
            "RedisUser.delete_field(f)": 1,
            "TenantCache.delete_key(key)": 1,
            "RedisUser.exists() after delete": False,
            "RedisSharedState.upsert(state, data)": True,
            "RedisSharedState.get(state)": {"step": 1, "lang": "es"},
            "RedisSharedState.get_field(state, f)": 1,
            "RedisSharedState.update_field(state, f, v)": True,
            "RedisSharedState.update_field(state, f, v, ttl)": True,
            "RedisSharedState.delete_field(state, f)": 1,
            "RedisSharedState.exists(state)": True,
            "RedisSharedState.list_states()": ["conv"],
            "RedisSharedState.clear_all_states()": 1,
            "RedisSharedState.delete(state)": 0,
            "RedisStateHandler.upsert(name, data, ttl)": True,
            "RedisStateHandler.get(name)": {"step": 1},
            "RedisStateHandler.get(name, models)": {"step": 1},
            "RedisStateHandler.get_field(name, f)": "1",  # 1.4 returned the stored text
            "RedisStateHandler.update_field(name, f, v)": True,
            "RedisStateHandler.increment_field(name, f)": 3,
            "RedisStateHandler.append_to_list(name, f, v)": True,
            "RedisStateHandler.merge(name, data)": lambda v: (
                set(v) == {"step", "hist", "lang", "handler_type", "timestamp"}
                and v["handler_type"] == "chat"
            ),
            "RedisStateHandler.exists(name)": True,
            "RedisStateHandler.delete(name)": 1,
            "RedisTable.upsert(t, pk, data)": True,
            "RedisTable.get(t, pk)": {"total": 10, "status": "new"},
            "RedisTable.get_field(t, pk, f)": "new",
            "RedisTable.update_field(t, pk, f, v)": True,
            "RedisTable.increment_field(t, pk, f, increment=)": 15,
            "RedisTable.append_to_list(t, pk, f, v)": True,
            "RedisTable.find_by_field(t, f, v)": {"total": 15, "status": "paid", "log": ["paid"]},
            "RedisTable.exists(t, pk)": True,
            "RedisTable.delete_all_by_pkid(pk)": 1,
            "RedisTable.delete(t, pk)": 0,
            "RedisBatch.enqueue(svc, entity, action, dict)": True,
            "RedisBatch.enqueue(svc, entity, action, text)": True,
            "RedisBatch.get_chunk(svc, entity, action)": [{"m": 1}, "raw text"],
            "RedisBatch.get_length(...)": 2,
            "RedisBatch.trim(..., 1, -1)": True,
            "RedisBatch.get_pending_tenants(svc)": {"{T}"},
            "RedisBatch.remove_from_pending(svc, tenant)": 1,
            "RedisTrigger.set(action, id, ttl)": True,
            "RedisTrigger.set(..., ttl_seconds=)": True,
            "RedisTrigger.delete(action, id)": 1,
            "RedisTrigger.delete_all_by_identifier(id)": 1,
            "RedisGeneric.set(key, value)": True,
            "RedisGeneric.set(key, value, ex=)": True,
            "RedisGeneric.get(key)": {"a": 1},
            "RedisGeneric.get(key, model=)": None,
            "RedisGeneric.delete(key)": 1,
            "ops.set(key, value, ex=)": True,
            "ops.get(key)": "v",
            "ops.setex(key, seconds, value)": True,
            "ops.exists(k1, k2)": 2,
            "ops.expire(key, ttl)": True,
            "ops.get_ttl(key)": lambda v: 25 <= v <= 30,
            "ops.hset(key, field, value)": 1,
            "ops.hset(key, mapping=)": 2,
            "ops.hset(key) without field or mapping": -1,
            "ops.hget(key, field)": "1",
            "ops.hgetall(key)": {"a": "1", "b": "2", "c": "x"},
            "ops.hexists(key, field)": True,
            "ops.hincrby(key, field, 5)": 7,
            "ops.hdel(key, *fields)": 2,
            "ops.hset_with_expire(key, mapping, ttl)": (1, True),
            "ops.hincrby_with_expire(key, field, n, ttl)": (8, True),
            "ops.rpush(key, *values)": 3,
            "ops.lrange(key, 0, -1)": ["a", "b", "c"],
            "ops.llen(key)": 3,
            "ops.lpop(key)": "a",
            "ops.lpop(key, 2)": ["b", "c"],
            "ops.ltrim(key, 0, 0)": True,
            "ops.sadd(key, *members)": 2,
            "ops.smembers(key)": {"x", "y"},
            "ops.srem(key, member)": 1,
            "ops.rpush_and_sadd(...)": (1, 1),
            "ops.rpush_and_sadd(empty)": (None, None),
            "ops.scan_keys(pattern) until done": [
                "{T}:ops:h",
                "{T}:ops:k1",
                "{T}:ops:k2",
                "{T}:ops:list",
                "{T}:ops:set",
            ],
            "ops.delete(*keys)": 5,
            "200 concurrent pool_user.submit": 200,
            "publish_json + subscribe": {"delta": "Hel"},
            "expiry handler(identifier, full_key)": (
                "u9",
                f"{{T}}:EXPTRIGGER:compat_{redis14['service']}:u9",
            ),
            "AsyncBaseTool with only _arun, helpers": [
                "stored 4",
                {"step": 4},
                True,
                1,
                True,
                1,
                True,
                ["flow", "form"],
                1,
                1,
            ],
            "UserThreads": [
                {},
                {"main_thread": "th_1", "CEO": {"Coder": "th_2"}},
                True,
                "th_1",
                {"main_thread": "th_1", "x": "th_3"},
                {},
            ],
            # 1.4 returned None; ours returns the logger it configured (the root one)
            "setup_logging(level=, mode=DEV, log_dir=)": lambda v: v.name == "root",
            "helper_functions.robust_clean_text": "Title\n\n*bold* text",
            "helper_functions.format_date_friendly": "15 de enero del 2025",
            "helper_functions.parse_datetime_to_target_tz": "2025-01-16T10:04:09-05:00",
            "helper_functions.datetime_to_iso_string": "2025-01-02T00:00:00+00:00",
        },
    )


def test_catalogue_covers_what_1_4_exports() -> None:
    """The catalogue names each public method of 1.4's clients and repositories."""
    source = (Path(__file__).parent / "upstream_calls.py").read_text()
    methods = {
        "Airtable": "get_schema extract_table_ids create_fields update_field fetch_records "
        "fetch_filtered_records create_records update_single_record update_multiple_records "
        "delete_single_record delete_multiple_records upload_attachment",
        "WompiAsync": "generate_reference generate_checkout_url get_transaction "
        "get_transaction_by_reference verify_webhook_event",
        "RedisUser": "upsert get get_field update_field increment_field append_to_list exists "
        "find_by_field delete_field key_exists get_ttl renew_ttl delete_key",
        "RedisStateHandler": "upsert get get_field update_field increment_field append_to_list "
        "merge exists delete",
        "RedisBatch": "enqueue get_chunk get_length trim get_pending_tenants remove_from_pending",
        "AsyncBaseTool": "get_state upsert_state get_field update_field delete_field "
        "delete_state clear_all_states list_states state_exists",
        "UserThreads": "load_threads save_threads thread_exists get_thread_id "
        "clear_specific_thread sync_load_threads sync_save_threads delete_threads",
    }
    missing = [
        f"{owner}.{name}"
        for owner, names in methods.items()
        for name in names.split()
        if f".{name}(" not in source
    ]
    assert not missing
    assert asyncio.iscoroutinefunction(redis_calls)


def test_setup_logging_configures_the_root_logger_as_1_4(tmp_path: Path) -> None:
    import logging

    from mimeiapify.utils.logger import setup_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("DEBUG", "DEV", str(tmp_path), console_fmt="%(message)s",
                      file_fmt="%(levelname)s|%(name)s|%(message)s")  # fmt: skip
        assert root.level == logging.DEBUG
        assert [type(h).__name__ for h in root.handlers] == ["RichHandler", "FileHandler"]
        logging.getLogger("app.orders").debug("hello %s", "file")
        (log_file,) = tmp_path.glob("app_logs_*.log")
        assert "DEBUG|app.orders|hello file" in log_file.read_text()
        setup_logging(level="WARNING", mode="PROD")  # console only, replacing the file
        assert [type(h).__name__ for h in root.handlers] == ["RichHandler"]
        assert root.level == logging.WARNING
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
