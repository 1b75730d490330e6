"""The Airtable emulator as pyairtable sees it (pyairtable pointed at it by endpoint_url).

pyairtable is the most used Python Airtable client and was written against the
real API: what it sends and what it expects back is our fidelity check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pyairtable import Api
from pyairtable.formulas import AND, EQ, GT, OR, Field, match

from mimeia.testing import free_port, run_server
from mimeiapify import Airtable

pytestmark = pytest.mark.integration
KEY = "pat_emulator_token"
WORKSPACE = "wspFidelity000001"


@pytest.fixture(scope="module")
def unthrottled_url() -> Iterator[str]:
    """pyairtable does not pace itself, so these checks run with the limit raised;
    the 5 req/s limit has its own tests (and the benchmark)."""
    port = free_port()
    argv = ["python", "-m", "mimeiapify.testing.airtable", "--host", "127.0.0.1",
            "--port", str(port), "--rate-limit", "10000"]  # fmt: skip
    with run_server(argv):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def api(unthrottled_url: str) -> Api:
    return Api(KEY, endpoint_url=unthrottled_url)


def _fields() -> list[dict[str, Any]]:
    return [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Count", "type": "number", "options": {"precision": 0}},
        {"name": "Tag", "type": "singleSelect", "options": {"choices": [{"name": "red"}]}},
    ]


def test_pyairtable_builds_and_reads_a_base(api: Api) -> None:
    base = api.create_base(WORKSPACE, "fidelity", [{"name": "Items", "fields": _fields()}])
    assert base.id.startswith("app") and len(base.id) == 17
    table = base.table("Items")
    schema = table.schema()
    assert [f.name for f in schema.fields] == ["Name", "Count", "Tag"]
    assert schema.primary_field_id == schema.fields[0].id

    field = table.create_field("Notes", "multilineText")
    assert field.id.startswith("fld")
    assert [f.name for f in table.schema(force=True).fields][-1] == "Notes"
    extra = base.create_table("Extra", [{"name": "Title", "type": "singleLineText"}])
    assert extra.id.startswith("tbl")
    assert {b.id for b in api.bases(force=True)} >= {base.id}


def test_pyairtable_records_roundtrip(api: Api) -> None:
    base = api.create_base(WORKSPACE, "records", [{"name": "Items", "fields": _fields()}])
    table = api.table(base.id, "Items")

    one = table.create({"Name": "first", "Count": 1})
    assert one["id"].startswith("rec") and one["fields"] == {"Name": "first", "Count": 1}
    many = table.batch_create([{"Name": f"n{i}", "Count": i} for i in range(25)])
    assert len(many) == 25

    assert len(table.all()) == 26
    pages = list(table.iterate(page_size=10))
    assert [len(p) for p in pages] == [10, 10, 6]
    assert table.first(formula=EQ(Field("Name"), "n3"))["fields"]["Count"] == 3
    assert [r["fields"]["Name"] for r in table.all(sort=["-Count"], max_records=2)] == [
        "n24",
        "n23",
    ]
    assert table.all(fields=["Name"], max_records=1)[0]["fields"].keys() == {"Name"}
    hits = table.all(
        formula=OR(AND(GT(Field("Count"), 20), EQ(Field("Name"), "n22")), match({"Name": "first"}))
    )
    assert sorted(r["fields"]["Name"] for r in hits) == ["first", "n22"]

    by_id = table.all(use_field_ids=True, max_records=1)[0]["fields"]
    assert all(key.startswith("fld") for key in by_id)
    assert len(table.all(view="Grid view")) == 26
    text = table.all(cell_format="string", time_zone="UTC", user_locale="en-us", max_records=1)
    assert text[0]["fields"]["Count"] == "1"
    cast = table.create({"Count": "7", "Tag": "brand-new-option"}, typecast=True)
    assert cast["fields"] == {"Count": 7, "Tag": "brand-new-option"}
    table.delete(cast["id"])

    updated = table.update(one["id"], {"Count": 100})
    assert updated["fields"]["Count"] == 100
    assert table.get(one["id"])["fields"] == {"Name": "first", "Count": 100}
    replaced = table.update(one["id"], {"Name": "solo"}, replace=True)
    assert replaced["fields"] == {"Name": "solo"}
    batch = table.batch_update([{"id": r["id"], "fields": {"Tag": "red"}} for r in many[:12]])
    assert all(r["fields"]["Tag"] == "red" for r in batch)

    upserted = table.batch_upsert(
        [{"fields": {"Name": "n1", "Count": -1}}, {"fields": {"Name": "brand new"}}],
        key_fields=["Name"],
    )
    assert len(upserted["createdRecords"]) == 1 and len(upserted["updatedRecords"]) == 1

    assert table.delete(one["id"]) == {"id": one["id"], "deleted": True}
    deleted = table.batch_delete([r["id"] for r in many[:13]])
    assert len(deleted) == 13
    assert len(table.all()) == 26 - 1 - 13 + 1


def test_pyairtable_long_formula_uses_post_list_records(api: Api) -> None:
    base = api.create_base(WORKSPACE, "long", [{"name": "Items", "fields": _fields()}])
    table = api.table(base.id, "Items")
    table.batch_create([{"Name": "needle"}, {"Name": "hay"}])
    names = ["needle"] + [f"name-{i:05d}-" + "y" * 40 for i in range(400)]
    formula = OR(*(EQ(Field("Name"), n) for n in names))
    assert len(str(formula)) > 16_000
    assert [r["fields"]["Name"] for r in table.all(formula=formula)] == ["needle"]


def test_pyairtable_sees_airtable_errors(api: Api) -> None:
    base = api.create_base(WORKSPACE, "errors", [{"name": "Items", "fields": _fields()}])
    table = api.table(base.id, "Items")
    with pytest.raises(requests.HTTPError) as missing:
        table.get("rec" + "X" * 14)
    assert missing.value.response.status_code == 404
    with pytest.raises(requests.HTTPError) as unknown:
        table.create({"Nope": 1})
    assert unknown.value.response.status_code == 422
    assert unknown.value.response.json()["error"]["type"] == "UNKNOWN_FIELD_NAME"
    with pytest.raises(requests.HTTPError) as no_table:
        api.table(base.id, "Ghost").all()
    assert no_table.value.response.status_code == 404


def test_what_pyairtable_writes_our_client_reads(api: Api, unthrottled_url: str) -> None:
    base = api.create_base(WORKSPACE, "both", [{"name": "Items", "fields": _fields()}])
    api.table(base.id, "Items").batch_create([{"Name": f"p{i}", "Count": i} for i in range(12)])
    with Airtable(base.id, KEY, api_url=f"{unthrottled_url}/v0") as ours:
        rows = ours.fetch_records("Items", sort=["Count"])
    assert list(rows["Name"]) == [f"p{i}" for i in range(12)]


def test_emulator_refuses_what_airtable_refuses(airtable_server: Any, base: dict[str, Any]) -> None:
    url = f"{airtable_server.api_url}/{base['id']}/Tasks"
    auth = {"Authorization": f"Bearer {KEY}"}
    assert requests.get(url, timeout=5).status_code == 401
    eleven = {"records": [{"fields": {"Name": str(i)}} for i in range(11)]}
    too_many = requests.post(url, json=eleven, headers=auth, timeout=5)
    assert too_many.status_code == 422 and too_many.json()["error"]["type"] == "INVALID_RECORDS"
    bad_json = requests.post(url, data=b"{not json", headers=auth, timeout=5)
    assert bad_json.status_code == 400
    big_page = requests.get(url, params={"pageSize": 101}, headers=auth, timeout=5)
    assert big_page.status_code == 422
    stale = requests.get(url, params={"offset": "itrNOPE/recNOPE"}, headers=auth, timeout=5)
    assert stale.json()["error"]["type"] == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"
    unknown_view = requests.get(url, params={"view": "Kanban"}, headers=auth, timeout=5)
    assert unknown_view.status_code == 404


def test_a_formula_nested_too_deep_is_airtables_422_not_a_500(
    airtable_server: Any, base: dict[str, Any]
) -> None:
    url = f"{airtable_server.api_url}/{base['id']}/Tasks"
    auth = {"Authorization": f"Bearer {KEY}"}
    for formula in ("(" * 3000 + "1" + ")" * 3000, "NOT(" * 3000 + "1" + ")" * 3000):
        deep = requests.post(f"{url}/listRecords", json={"filterByFormula": formula},
                             headers=auth, timeout=10)  # fmt: skip
        assert deep.status_code == 422, deep.text[:300]
        assert deep.json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"
    # long but flat formulas are fine: a chain of 3,000 terms nests nothing
    requests.post(url, json={"records": [{"fields": {"Name": "x", "Hours": 3000}}]},
                  headers=auth, timeout=10).raise_for_status()  # fmt: skip
    chain = "{Hours} = " + "+".join(["1"] * 3000)
    flat = requests.post(f"{url}/listRecords", json={"filterByFormula": chain},
                         headers=auth, timeout=10)  # fmt: skip
    assert flat.status_code == 200, flat.text[:300]
    assert [r["fields"]["Name"] for r in flat.json()["records"]] == ["x"]
