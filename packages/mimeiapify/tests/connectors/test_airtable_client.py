"""Airtable clients (sync and async) against the emulator: operations, batching, errors."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mimeiapify import (
    Airtable,
    AirtableAsync,
    AirtableNotFoundError,
    AirtableValidationError,
    Field,
    match,
)
from mimeiapify.formula import AND, NOT, OR

pytestmark = pytest.mark.integration
KEY = "pat_emulator_token"


def test_crud_sync(base: dict[str, Any], airtable_env: Any) -> None:
    with Airtable(base["id"], KEY) as at:
        created = at.create_records(
            "Tasks", [{"Name": f"t{i}", "Hours": i, "Done": i % 2 == 0} for i in range(23)]
        )
        assert len(created) == 23 and all(r["id"].startswith("rec") for r in created)
        # 23 records -> 3 requests of at most 10
        assert airtable_env.stats(base["id"])["requests"] == 3

        one = at.get_record("Tasks", created[4]["id"])
        assert one["fields"] == {"Name": "t4", "Hours": 4, "Done": True}
        updated = at.update_single_record("Tasks", created[4]["id"], {"Hours": 40})
        assert updated["fields"]["Hours"] == 40 and updated["fields"]["Name"] == "t4"
        replaced = at.update_single_record(
            "Tasks", created[4]["id"], {"Name": "only"}, destructive=True
        )
        assert replaced["fields"] == {"Name": "only"}

        many = at.update_multiple_records(
            "Tasks", [{"id": r["id"], "fields": {"Status": "Done"}} for r in created[:12]]
        )
        assert len(many["records"]) == 12
        assert many["createdRecords"] == many["updatedRecords"] == []

        deleted = at.delete_multiple_records("Tasks", [r["id"] for r in created[:15]])
        assert len(deleted) == 15 and all(d["deleted"] for d in deleted)
        assert at.delete_single_record("Tasks", created[20]["id"]) is True
        remaining = at.fetch_records("Tasks", raw=True, page_size=3)
        assert len(remaining) == 23 - 16


def test_listing_options(base: dict[str, Any]) -> None:
    with Airtable(base["id"], KEY) as at:
        at.create_records("Tasks", [{"Name": n, "Hours": h} for n, h in
                                    [("b", 3), ("a", 3), ("c", 1), ("d", 7)]])  # fmt: skip
        rows = at.fetch_records("Tasks", raw=True, sort=["-Hours", "Name"], fields=["Name"])
        assert [r["fields"] for r in rows] == [{"Name": n} for n in "dabc"]
        assert len(at.fetch_records("Tasks", max_records=2, page_size=1)) == 2
        by_id = at.fetch_records("Tasks", raw=True, return_fields_by_field_id=True, max_records=1)
        assert all(k.startswith("fld") for k in by_id[0]["fields"])
        as_text = at.fetch_records(
            "Tasks", raw=True, cell_format="string", time_zone="America/Bogota",
            user_locale="es-co", filter_by_formula=Field("Name") == "d",
        )  # fmt: skip
        assert as_text[0]["fields"]["Hours"] == "7"
        frame = at.fetch_records("Tasks", sort=["Name"])  # 1.4's default: a DataFrame
        assert isinstance(frame, pd.DataFrame)
        assert list(frame["Name"]) == ["a", "b", "c", "d"]
        assert all(r.startswith("rec") for r in frame["record_id"])
        as_json = at.fetch_records("Tasks", True, sort=["Name"])
        assert as_json["records"][0]["Name"] == "a" and "record_id" in as_json["records"][0]
        pages = list(at.iterate_pages("Tasks", page_size=3))
        assert [len(p) for p in pages] == [3, 1]
        assert at.extract_table_ids() == {"Tasks": base["tables"][0]["id"]}


def test_formula_builder_cannot_be_broken(base: dict[str, Any]) -> None:
    nasty = 'x", TRUE(), "{Name}\\'
    with Airtable(base["id"], KEY) as at:
        at.create_records("Tasks", [{"Name": nasty, "Hours": 1}, {"Name": "plain", "Hours": 5}])
        exact = at.fetch_filtered_records("Tasks", match({"Name": nasty}), raw=True)
        assert [r["fields"]["Name"] for r in exact] == [nasty]
        either = at.fetch_filtered_records(
            "Tasks", OR(Field("Hours") > 4, AND(Field("Name") == nasty, NOT(Field("Done")))), True
        )["records"]
        assert len(either) == 2
        assert len(
            at.fetch_filtered_records("Tasks", (Field("Hours") >= 5) & ~Field("Name").is_blank())
        )
        assert list(at.fetch_filtered_records("Tasks", Field("Name").contains("lai"))["Name"]) == [
            "plain"
        ]
    assert str(Field("a}b") == 'q"') == '{a\\}b}="q\\""'


def test_long_formula_goes_as_post(base: dict[str, Any], airtable_env: Any) -> None:
    names = [f"name-{i:05d}-" + "x" * 40 for i in range(400)]
    formula = OR(*(Field("Name") == n for n in names))
    assert len(str(formula)) > 16_000
    with Airtable(base["id"], KEY) as at:
        at.create_records("Tasks", [{"Name": names[7]}, {"Name": "other"}])
        found = at.fetch_filtered_records("Tasks", formula, raw=True)
    assert [r["fields"]["Name"] for r in found] == [names[7]]
    # the emulator refuses such a GET the way Airtable does
    import requests

    refused = requests.get(
        f"{airtable_env.api_url}/{base['id']}/Tasks",
        params={"filterByFormula": str(formula)},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert refused.status_code == 414


async def test_upsert_rules(base: dict[str, Any], airtable_env: Any) -> None:
    async with AirtableAsync(base["id"], KEY) as at:
        await at.create_records("Tasks", [{"Name": "a", "Hours": 1}, {"Name": "dup"},
                                          {"Name": "dup"}])  # fmt: skip
        result = await at.update_multiple_records(
            "Tasks",
            [{"fields": {"Name": "a", "Hours": 10}}]
            + [{"fields": {"Name": f"new{i}", "Hours": i}} for i in range(11)],
            perform_upsert=True,
            fields_to_merge_on=["Name"],
        )
        assert len(result["updatedRecords"]) == 1 and len(result["createdRecords"]) == 11
        assert len(result["records"]) == 12
        before = airtable_env.stats(base["id"])["requests"]
        with pytest.raises(AirtableValidationError, match="merge field") as missing:
            await at.update_multiple_records(
                "Tasks",
                [{"fields": {"Name": "ok"}}] * 12 + [{"fields": {"Hours": 3}}],
                perform_upsert=True,
                fields_to_merge_on=["Name"],
            )
        assert missing.value.field == "fields_to_merge_on"
        # nothing was sent: the check happens before the first batch
        assert airtable_env.stats(base["id"])["requests"] == before
        with pytest.raises(AirtableValidationError) as several:
            await at.update_multiple_records(
                "Tasks", [{"fields": {"Name": "dup", "Hours": 2}}], False, False, True, ["Name"]
            )
        assert (
            several.value.status == 422 and several.value.error_type == "INVALID_VALUE_FOR_COLUMN"
        )


async def test_schema_and_fields(base: dict[str, Any]) -> None:
    tid = base["tables"][0]["id"]
    async with AirtableAsync(base["id"], KEY) as at:
        one = await at.create_fields(tid, {"name": "Notes", "type": "multilineText"})
        two = await at.create_fields(
            tid, [{"name": "Due", "type": "date"}, {"name": "Email", "type": "email"}]
        )
        assert [f["name"] for f in one + two] == ["Notes", "Due", "Email"]
        renamed = await at.update_field(tid, one[0]["id"], name="Comments", description="free text")
        assert renamed["name"] == "Comments"
        schema = await at.get_schema()
        names = [f["name"] for f in schema["tables"][0]["fields"]]
        assert names[-3:] == ["Comments", "Due", "Email"]
        assert await at.extract_table_ids(schema) == {"Tasks": tid}


async def test_attachments(base: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello attachment")
    async with AirtableAsync(base["id"], KEY) as at:
        rec = (await at.create_records("Tasks", [{"Name": "with file"}]))[0]
        result = await at.upload_attachment(rec["id"], "Files", file_path=path)
        files = next(iter(result["fields"].values()))
        assert files[0]["filename"] == "hello.txt" and files[0]["size"] == 16
        assert files[0]["type"] == "text/plain"
        await at.upload_attachment(rec["id"], "Files", "image/png", b"\x89PNG", "x.png")
        fetched = await at.get_record("Tasks", rec["id"])
        assert [f["filename"] for f in fetched["fields"]["Files"]] == ["hello.txt", "x.png"]

        big = tmp_path / "big.bin"
        big.write_bytes(b"\0" * (5 * 1024 * 1024 + 1))
        with pytest.raises(AirtableValidationError, match="5 MB") as too_big:
            await at.upload_attachment(rec["id"], "Files", file_path=big)
        assert too_big.value.field == "file_path"
        with pytest.raises(AirtableValidationError, match="5 MB"):
            await at.upload_attachment(
                rec["id"], "Files", file_bytes=b"\0" * (5 * 1024 * 1024 + 1), filename="b.bin"
            )


def test_bad_inputs_are_refused_before_sending(base: dict[str, Any], airtable_env: Any) -> None:
    with pytest.raises(AirtableValidationError) as bad_base:
        Airtable("not-a-base", KEY)
    assert bad_base.value.field == "base_id"
    with pytest.raises(AirtableValidationError) as no_key:
        Airtable(base["id"], "")
    assert no_key.value.field == "api_key"
    with Airtable(base["id"], KEY) as at:
        before = airtable_env.stats(base["id"])["requests"]
        cases = [
            (lambda: at.get_record("Tasks", "recSHORT"), "record_id"),
            (lambda: at.get_record("", "rec" + "a" * 14), "table_id"),
            (lambda: at.get_record("tbl!!!!!!!!!!!!!!", "rec" + "a" * 14), "table_id"),
            (lambda: at.create_records("Tasks", "not a record"), "records"),
            (lambda: at.create_records("Tasks", ["text"]), "records[0]"),
            (lambda: at.update_multiple_records("Tasks", [{"fields": {"Name": "x"}}]), "records"),
            (lambda: at.delete_multiple_records("Tasks", 7), "record_ids"),  # type: ignore[arg-type]
            (lambda: at.delete_multiple_records("Tasks", ["recA"]), "record_ids[0]"),
            (lambda: at.fetch_records("Tasks", page_size=101), "page_size"),
            (lambda: at.fetch_records("Tasks", sort="Name"), "sort"),
            (lambda: at.fetch_records("Tasks", cell_format="string"), "cell_format"),
            (lambda: at.fetch_records("Tasks", filter_by_formula=3), None),
            (lambda: at.create_fields("Tasks", []), "fields"),
            (
                lambda: at.update_multiple_records("Tasks", [], perform_upsert=True),
                "fields_to_merge_on",
            ),
            (lambda: at.update_field("Tasks", "fldAAAAAAAAAAAAAA"), "name"),
        ]
        for call, field in cases:
            with pytest.raises((AirtableValidationError, TypeError)) as caught:
                call()
            if field is not None:
                assert isinstance(caught.value, AirtableValidationError)
                assert caught.value.field == field, (field, caught.value)
        assert airtable_env.stats(base["id"])["requests"] == before


def test_remote_errors_are_typed(base: dict[str, Any]) -> None:
    with Airtable(base["id"], KEY) as at:
        with pytest.raises(AirtableNotFoundError) as no_table:
            at.fetch_records("Nope")
        assert no_table.value.status == 404 and no_table.value.error_type == "TABLE_NOT_FOUND"
        with pytest.raises(AirtableNotFoundError):
            at.get_record("Tasks", "rec" + "Z" * 14)
        with pytest.raises(AirtableValidationError) as unknown:
            at.create_records("Tasks", [{"Nme": "typo"}])
        assert unknown.value.error_type == "UNKNOWN_FIELD_NAME" and '"Nme"' in str(unknown.value)
        with pytest.raises(AirtableValidationError) as bad_value:
            at.create_records("Tasks", [{"Hours": "many"}])
        assert bad_value.value.error_type == "INVALID_VALUE_FOR_COLUMN"
        assert at.create_records("Tasks", [{"Hours": "12"}], typecast=True)[0]["fields"] == {
            "Hours": 12
        }
        with pytest.raises(AirtableValidationError) as bad_formula:
            at.fetch_filtered_records("Tasks", "AND({Name}=")
        assert bad_formula.value.error_type == "INVALID_FILTER_BY_FORMULA"
        with pytest.raises(AirtableValidationError) as bad_option:
            at.create_records("Tasks", [{"Status": "Unknown option"}])
        assert bad_option.value.error_type == "INVALID_MULTIPLE_CHOICE_OPTIONS"
    with Airtable("app" + "Q" * 14, KEY) as ghost, pytest.raises(AirtableNotFoundError):
        ghost.get_schema()


def test_sync_and_async_share_the_base_budget(base: dict[str, Any], airtable_env: Any) -> None:
    """Threads with sync clients and an event loop with async clients, one base: no 429."""

    def sync_worker() -> None:
        with Airtable(base["id"], KEY) as at:
            for i in range(4):
                at.create_records("Tasks", [{"Name": f"sync {i}"}])

    async def async_workers() -> None:
        async with AirtableAsync(base["id"], KEY) as at:
            await asyncio.gather(*(at.fetch_records("Tasks") for _ in range(8)))

    threads = [threading.Thread(target=sync_worker) for _ in range(2)]
    for t in threads:
        t.start()
    asyncio.run(async_workers())
    for t in threads:
        t.join()
    stats = airtable_env.stats(base["id"])
    assert stats == {"requests": 16, "rate_limited": 0}
