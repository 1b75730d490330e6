"""A local Airtable API server for tests and development.

Run it::

    python -m mimeiapify.testing.airtable --host 127.0.0.1 --port 8710 \\
        [--rate-limit 5] [--penalty-seconds 30]

It prints ``listening on http://HOST:PORT`` when ready. Point clients at
``http://HOST:PORT/v0`` (``AIRTABLE_API_URL`` and ``AIRTABLE_CONTENT_URL``).
Any bearer token is accepted. Build a schema through the metadata API
(``POST /v0/meta/bases``, ``POST /v0/meta/bases/{baseId}/tables``).

What it reproduces: ids in Airtable's formats, record pagination with
offsets (``pageSize`` up to 100), the 10-records-per-write limit, Airtable's
error bodies and status codes, upsert (``performUpsert``: no match creates,
one match updates, several fail), ``filterByFormula`` for the subset in
:mod:`mimeiapify.testing._formula_eval`, sort, fields, views (the default
"Grid view"), ``cellFormat``, ``returnFieldsByFieldId``, the 16,000-character
URL limit (414) and ``POST listRecords``, schema and field endpoints, the
attachment upload endpoint (5 MB limit), and the per-base limit of
``--rate-limit`` requests per second answered by 429 and a penalty of
``--penalty-seconds`` during which every request to that base gets 429.

``GET /_emulator/stats`` reports requests and 429s per base.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import secrets
import signal
import string
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mimeiapify.testing._formula_eval import FormulaError, compile_formula

_ALNUM = string.ascii_letters + string.digits
MAX_URL_LENGTH = 16_000
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
_TEXT_TYPES = {
    "singleLineText", "multilineText", "richText", "email", "url", "phoneNumber",
}  # fmt: skip
_NUMBER_TYPES = {"number", "currency", "percent", "rating", "duration", "autoNumber"}


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(14))


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class ApiFailure(Exception):
    def __init__(self, status: int, error: Any) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _fail(status: int, error_type: str, message: str | None = None) -> ApiFailure:
    if message is None:
        return ApiFailure(status, error_type)
    return ApiFailure(status, {"type": error_type, "message": message})


def _invalid(message: str) -> ApiFailure:
    return _fail(422, "INVALID_REQUEST_UNKNOWN", message)


# ---------------------------------------------------------------- model


@dataclass
class FieldDef:
    id: str
    name: str
    type: str
    options: dict[str, Any] | None = None
    description: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.options is not None:
            out["options"] = self.options
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class StoredRecord:
    id: str
    created_time: str
    values: dict[str, Any]  # by field id


@dataclass
class Table:
    id: str
    name: str
    description: str | None
    fields: list[FieldDef]
    views: list[dict[str, str]]
    records: dict[str, StoredRecord] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "primaryFieldId": self.fields[0].id,
            "fields": [f.as_json() for f in self.fields],
            "views": self.views,
        }
        if self.description:
            out["description"] = self.description
        return out

    def field_by_key(self, key: str) -> FieldDef | None:
        for f in self.fields:
            if f.id == key or f.name == key:
                return f
        return None


@dataclass
class Base:
    id: str
    name: str
    tables: list[Table] = field(default_factory=list)

    def table(self, key: str) -> Table:
        for t in self.tables:
            if t.id == key or t.name == key:
                return t
        raise _fail(
            404,
            "TABLE_NOT_FOUND",
            f"Could not find table {key} in application {self.id}",
        )


@dataclass
class RateWindow:
    """Per-base limiter: ``limit`` requests per rolling second, then a penalty."""

    limit: int
    penalty: float
    arrivals: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    requests: int = 0
    rate_limited: int = 0

    def admit(self, now: float) -> bool:
        self.requests += 1
        if now < self.blocked_until:
            self.rate_limited += 1
            return False
        while self.arrivals and self.arrivals[0] <= now - 1.0:
            self.arrivals.popleft()
        if len(self.arrivals) >= self.limit:
            self.blocked_until = now + self.penalty
            self.rate_limited += 1
            return False
        self.arrivals.append(now)
        return True


# ---------------------------------------------------------------- values


def _check_value(fdef: FieldDef, value: Any, typecast: bool) -> Any:
    """Validate (and with typecast, coerce) a cell value; None clears it."""
    if value is None:
        return None

    def bad() -> ApiFailure:
        return _fail(
            422,
            "INVALID_VALUE_FOR_COLUMN",
            f'Field "{fdef.name}" cannot accept the provided value',
        )

    t = fdef.type
    if t in _TEXT_TYPES:
        if isinstance(value, str):
            return value
        if typecast and isinstance(value, int | float | bool):
            return str(value)
        raise bad()
    if t in _NUMBER_TYPES:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if typecast and isinstance(value, str):
            try:
                return float(value) if "." in value else int(value)
            except ValueError:
                return None
        raise bad()
    if t == "checkbox":
        if isinstance(value, bool):
            return value
        if typecast:
            return bool(value)
        raise bad()
    if t in ("singleSelect", "multipleSelects"):
        choices = (fdef.options or {}).setdefault("choices", [])
        names = [c["name"] for c in choices]
        items = value if t == "multipleSelects" else [value]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise bad()
        for item in items:
            if item not in names:
                if not typecast:
                    raise _fail(
                        422,
                        "INVALID_MULTIPLE_CHOICE_OPTIONS",
                        f'Insufficient permissions to create new select option ""{item}""',
                    )
                choices.append({"id": new_id("sel"), "name": item, "color": "blueLight2"})
                names.append(item)
        return value
    if t == "multipleAttachments":
        if not isinstance(value, list):
            raise bad()
        out = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("url") or item.get("id"), str):
                raise bad()
            out.append(
                {
                    "id": item.get("id") or new_id("att"),
                    "url": item.get("url", ""),
                    "filename": item.get("filename") or item.get("url", "").rsplit("/", 1)[-1],
                    "size": item.get("size", 0),
                    "type": item.get("type", "application/octet-stream"),
                }
            )
        return out
    if t in ("date", "dateTime"):
        if not isinstance(value, str):
            raise bad()
        return value
    return value  # other types are stored as given


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "checked" if value else ""
    if isinstance(value, list):
        return ", ".join(
            str(v.get("filename") or v.get("url")) if isinstance(v, dict) else str(v) for v in value
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


# ---------------------------------------------------------------- the server


@dataclass
class ListQuery:
    fields: list[str] | None = None
    sort: list[dict[str, str]] = field(default_factory=list)
    formula: str | None = None
    max_records: int | None = None
    page_size: int = 100
    view: str | None = None
    cell_format: str = "json"
    time_zone: str | None = None
    user_locale: str | None = None
    by_field_id: bool = False
    offset: str | None = None


class AirtableEmulator:
    """The emulator's state and routes; :meth:`app` builds the aiohttp application."""

    def __init__(self, rate_limit: int = 5, penalty_seconds: float = 30.0) -> None:
        self.rate_limit = rate_limit
        self.penalty_seconds = penalty_seconds
        self.bases: dict[str, Base] = {}
        self.windows: dict[str, RateWindow] = {}
        # offset token -> (table id, remaining record ids); bounded like a cache
        self.iterators: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()
        self.attachments: dict[str, tuple[str, bytes]] = {}

    # -- plumbing

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=16 * 1024 * 1024,
            middlewares=[self._middleware],
            # long enough request lines to answer an over-long URL with Airtable's 414
            handler_args={"max_line_size": 4 * MAX_URL_LENGTH},
        )
        r = app.router
        r.add_get("/_emulator/stats", self.stats)
        r.add_get("/_emulator/attachments/{att}/{name}", self.download)
        r.add_get("/v0/meta/bases", self.list_bases)
        r.add_post("/v0/meta/bases", self.create_base)
        r.add_get("/v0/meta/bases/{base}/tables", self.get_schema)
        r.add_post("/v0/meta/bases/{base}/tables", self.create_table)
        r.add_patch("/v0/meta/bases/{base}/tables/{table}", self.update_table)
        r.add_post("/v0/meta/bases/{base}/tables/{table}/fields", self.create_field)
        r.add_patch("/v0/meta/bases/{base}/tables/{table}/fields/{field}", self.update_field)
        r.add_post("/v0/{base}/{record}/{field}/uploadAttachment", self.upload_attachment)
        r.add_post("/v0/{base}/{table}/listRecords", self.list_records_post)
        r.add_get("/v0/{base}/{table}", self.list_records)
        r.add_post("/v0/{base}/{table}", self.create_records)
        r.add_patch("/v0/{base}/{table}", self.update_records)
        r.add_put("/v0/{base}/{table}", self.update_records)
        r.add_delete("/v0/{base}/{table}", self.delete_records)
        r.add_get("/v0/{base}/{table}/{record}", self.get_record)
        r.add_patch("/v0/{base}/{table}/{record}", self.update_record)
        r.add_put("/v0/{base}/{table}/{record}", self.update_record)
        r.add_delete("/v0/{base}/{table}/{record}", self.delete_record)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/"):
            return await handler(request)
        if len(str(request.rel_url)) > MAX_URL_LENGTH:
            return _error_response(
                _fail(414, "INVALID_REQUEST_URL_TOO_LONG", "The URL is too long")
            )
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return _error_response(_fail(401, "AUTHENTICATION_REQUIRED", "Authentication required"))
        base_id = _base_of(path)
        if base_id is not None:
            window = self.windows.setdefault(
                base_id, RateWindow(self.rate_limit, self.penalty_seconds)
            )
            if not window.admit(time.monotonic()):
                return web.json_response(
                    {
                        "errors": [
                            {
                                "error": "RATE_LIMIT_REACHED",
                                "message": "Rate limit exceeded. Please try again later",
                            }
                        ]
                    },
                    status=429,
                )
        try:
            return await handler(request)
        except ApiFailure as failure:
            return _error_response(failure)
        except web.HTTPException as exc:
            if exc.status == 404:
                return _error_response(_fail(404, "NOT_FOUND"))
            if exc.status == 405:
                return _error_response(_fail(404, "NOT_FOUND"))
            raise

    async def _json(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise _fail(
                400, "INVALID_REQUEST_BODY", "Could not parse request body as JSON"
            ) from None

    def _base(self, base_id: str) -> Base:
        base = self.bases.get(base_id)
        if base is None:
            raise _fail(404, "NOT_FOUND")
        return base

    def _table(self, request: web.Request) -> Table:
        return self._base(request.match_info["base"]).table(request.match_info["table"])

    def _record_json(
        self, table: Table, rec: StoredRecord, query: ListQuery | None = None
    ) -> dict[str, Any]:
        q = query or ListQuery()
        wanted: set[str] | None = None
        if q.fields is not None:
            wanted = {f.id for f in table.fields if f.id in q.fields or f.name in q.fields}
        out: dict[str, Any] = {}
        for f in table.fields:
            if wanted is not None and f.id not in wanted:
                continue
            value = rec.values.get(f.id)
            if _empty(value):
                continue
            key = f.id if q.by_field_id else f.name
            out[key] = _as_string(value) if q.cell_format == "string" else value
        return {"id": rec.id, "createdTime": rec.created_time, "fields": out}

    def _values(self, table: Table, fields: Any, typecast: bool) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise _invalid(
                "Invalid request: parameter validation failed. 'fields' must be an object"
            )
        values: dict[str, Any] = {}
        for key, value in fields.items():
            fdef = table.field_by_key(key)
            if fdef is None:
                raise _fail(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{key}"')
            values[fdef.id] = _check_value(fdef, value, typecast)
        return values

    def _records_payload(self, body: Any) -> list[Any]:
        if not isinstance(body, dict):
            raise _invalid("Invalid request: request body must be an object")
        records = body.get("records")
        if not isinstance(records, list) or not records:
            raise _invalid("Invalid request: parameter validation failed. Check your request data.")
        if len(records) > 10:
            raise _fail(
                422,
                "INVALID_RECORDS",
                "You can only operate on up to 10 records at a time",
            )
        return records

    # -- stats and downloads

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                base_id: {"requests": w.requests, "rate_limited": w.rate_limited}
                for base_id, w in self.windows.items()
            }
        )

    async def download(self, request: web.Request) -> web.Response:
        found = self.attachments.get(request.match_info["att"])
        if found is None:
            raise web.HTTPNotFound()
        content_type, data = found
        return web.Response(body=data, content_type=content_type)

    # -- metadata

    async def list_bases(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "bases": [
                    {"id": b.id, "name": b.name, "permissionLevel": "create"}
                    for b in self.bases.values()
                ]
            }
        )

    def _new_table(self, spec: Any, base: Base) -> Table:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise _invalid("Invalid request: table 'name' is required")
        if any(t.name == spec["name"] for t in base.tables):
            raise _fail(422, "DUPLICATE_TABLE_NAME", f"Table name {spec['name']!r} already exists")
        fields = spec.get("fields")
        if not isinstance(fields, list) or not fields:
            raise _invalid("Invalid request: a table needs at least one field")
        defs: list[FieldDef] = []
        for fspec in fields:
            defs.append(self._new_field(fspec, defs))
        view = {"id": new_id("viw"), "name": "Grid view", "type": "grid"}
        return Table(new_id("tbl"), spec["name"], spec.get("description"), defs, [view])

    def _new_field(self, spec: Any, existing: list[FieldDef]) -> FieldDef:
        if not isinstance(spec, dict):
            raise _invalid("Invalid request: a field must be an object")
        name, ftype = spec.get("name"), spec.get("type")
        if not isinstance(name, str) or not name or not isinstance(ftype, str) or not ftype:
            raise _invalid("Invalid request: a field needs 'name' and 'type'")
        if any(f.name.lower() == name.lower() for f in existing):
            raise _fail(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f"Field name {name!r} already exists")
        options = spec.get("options")
        if ftype in ("singleSelect", "multipleSelects"):
            options = {
                "choices": [
                    {"id": new_id("sel"), "name": c["name"], "color": c.get("color", "blueLight2")}
                    for c in (options or {}).get("choices", [])
                    if isinstance(c, dict) and isinstance(c.get("name"), str)
                ]
            }
        return FieldDef(new_id("fld"), name, ftype, options, spec.get("description"))

    async def create_base(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise _invalid("Invalid request: base 'name' is required")
        tables = body.get("tables")
        if not isinstance(tables, list) or not tables:
            raise _invalid("Invalid request: a base needs at least one table")
        base = Base(new_id("app"), body["name"])
        for spec in tables:
            base.tables.append(self._new_table(spec, base))
        self.bases[base.id] = base
        return web.json_response({"id": base.id, "tables": [t.as_json() for t in base.tables]})

    async def get_schema(self, request: web.Request) -> web.Response:
        base = self._base(request.match_info["base"])
        return web.json_response({"tables": [t.as_json() for t in base.tables]})

    async def create_table(self, request: web.Request) -> web.Response:
        base = self._base(request.match_info["base"])
        table = self._new_table(await self._json(request), base)
        base.tables.append(table)
        return web.json_response(table.as_json())

    async def update_table(self, request: web.Request) -> web.Response:
        table = self._table(request)
        body = await self._json(request)
        if not isinstance(body, dict) or not ({"name", "description"} & set(body)):
            raise _invalid("Invalid request: give 'name' or 'description'")
        if "name" in body:
            table.name = str(body["name"])
        if "description" in body:
            table.description = body["description"]
        return web.json_response(table.as_json())

    async def create_field(self, request: web.Request) -> web.Response:
        table = self._table(request)
        fdef = self._new_field(await self._json(request), table.fields)
        table.fields.append(fdef)
        return web.json_response(fdef.as_json())

    async def update_field(self, request: web.Request) -> web.Response:
        table = self._table(request)
        fdef = table.field_by_key(request.match_info["field"])
        if fdef is None:
            raise _fail(404, "NOT_FOUND")
        body = await self._json(request)
        if not isinstance(body, dict) or not ({"name", "description"} & set(body)):
            raise _invalid("Invalid request: give 'name' or 'description'")
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"]:
                raise _invalid("Invalid request: field name must be a non-empty string")
            fdef.name = body["name"]
        if "description" in body:
            fdef.description = body["description"]
        return web.json_response(fdef.as_json())

    # -- listing

    def _query_from_params(self, request: web.Request) -> ListQuery:
        q = request.query
        raw: dict[str, Any] = {}
        if "fields[]" in q:
            raw["fields"] = q.getall("fields[]")
        sort: dict[int, dict[str, str]] = {}
        for key, value in q.items():
            if key.startswith("sort[") and key.endswith("]"):
                try:
                    index_text, attr = key[5:-1].split("][")
                    sort.setdefault(int(index_text), {})[attr] = value
                except ValueError:
                    raise _invalid(f"Invalid request: bad parameter {key}") from None
        if sort:
            raw["sort"] = [sort[i] for i in sorted(sort)]
        for name in (
            "filterByFormula", "maxRecords", "pageSize", "view", "cellFormat", "timeZone",
            "userLocale", "returnFieldsByFieldId", "offset",
        ):  # fmt: skip
            if name in q:
                raw[name] = q[name]
        return self._query(raw)

    def _query(self, raw: Mapping[str, Any]) -> ListQuery:
        query = ListQuery()

        def as_int(name: str) -> int:
            try:
                return int(raw[name])
            except (TypeError, ValueError):
                raise _invalid(f"Invalid request: {name} must be an integer") from None

        if "fields" in raw:
            if not isinstance(raw["fields"], list):
                raise _invalid("Invalid request: fields must be an array")
            query.fields = [str(f) for f in raw["fields"]]
        if "sort" in raw:
            if not isinstance(raw["sort"], list):
                raise _invalid("Invalid request: sort must be an array")
            for s in raw["sort"]:
                if not isinstance(s, dict) or "field" not in s:
                    raise _invalid("Invalid request: each sort needs a field")
                if s.get("direction", "asc") not in ("asc", "desc"):
                    raise _invalid("Invalid request: sort direction must be asc or desc")
            query.sort = raw["sort"]
        if raw.get("filterByFormula"):
            query.formula = str(raw["filterByFormula"])
        if "maxRecords" in raw:
            query.max_records = as_int("maxRecords")
        if "pageSize" in raw:
            query.page_size = as_int("pageSize")
            if not 1 <= query.page_size <= 100:
                raise _invalid("Invalid request: pageSize must be between 1 and 100")
        query.view = raw.get("view")
        cell_format = raw.get("cellFormat", "json")
        if cell_format not in ("json", "string"):
            raise _invalid("Invalid request: cellFormat must be json or string")
        query.cell_format = cell_format
        query.time_zone = raw.get("timeZone")
        query.user_locale = raw.get("userLocale")
        if cell_format == "string" and (not query.time_zone or not query.user_locale):
            raise _invalid("Invalid request: cellFormat string requires timeZone and userLocale")
        flag = raw.get("returnFieldsByFieldId", False)
        query.by_field_id = flag is True or str(flag).lower() in ("true", "1")
        query.offset = raw.get("offset")
        return query

    def _select(self, table: Table, query: ListQuery) -> list[str]:
        if query.view is not None and not any(
            v["id"] == query.view or v["name"] == query.view for v in table.views
        ):
            raise _fail(404, "VIEW_NAME_NOT_FOUND", f"Could not find view {query.view}")
        if query.fields is not None:
            for name in query.fields:
                if table.field_by_key(name) is None:
                    raise _fail(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
        records = list(table.records.values())
        if query.formula:
            try:
                compiled = compile_formula(query.formula)
            except FormulaError as exc:
                raise _fail(
                    422,
                    "INVALID_FILTER_BY_FORMULA",
                    f"The formula for filtering records is invalid: {exc}",
                ) from None
            for name in compiled.fields_used:
                if table.field_by_key(name) is None:
                    raise _fail(
                        422,
                        "INVALID_FILTER_BY_FORMULA",
                        f"The formula for filtering records is invalid: Unknown field names: "
                        f"{name.lower()}",
                    )
            by_name = [(r, {f.name: r.values.get(f.id) for f in table.fields}) for r in records]
            records = [r for r, named in by_name if compiled.matches(r.id, named)]
        for spec in reversed(query.sort):
            fdef = table.field_by_key(spec["field"])
            if fdef is None:
                raise _fail(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{spec["field"]}"')
            records.sort(key=_sort_by(fdef.id), reverse=spec.get("direction", "asc") == "desc")
        ids = [r.id for r in records]
        if query.max_records is not None:
            ids = ids[: query.max_records]
        return ids

    def _page(self, table: Table, query: ListQuery) -> dict[str, Any]:
        if query.offset:
            found = self.iterators.pop(query.offset, None)
            if found is None or found[0] != table.id:
                raise _fail(
                    422,
                    "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                    "The offset is not valid (it may have expired)",
                )
            remaining = found[1]
        else:
            remaining = self._select(table, query)
        page_ids, rest = remaining[: query.page_size], remaining[query.page_size :]
        page = [
            self._record_json(table, table.records[rid], query)
            for rid in page_ids
            if rid in table.records
        ]
        body: dict[str, Any] = {"records": page}
        if rest:
            token = f"itr{new_id('')}/{page_ids[-1]}"
            self.iterators[token] = (table.id, rest)
            while len(self.iterators) > 10_000:
                self.iterators.popitem(last=False)
            body["offset"] = token
        return body

    async def list_records(self, request: web.Request) -> web.Response:
        table = self._table(request)
        return web.json_response(self._page(table, self._query_from_params(request)))

    async def list_records_post(self, request: web.Request) -> web.Response:
        table = self._table(request)
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _invalid("Invalid request: request body must be an object")
        return web.json_response(self._page(table, self._query(body)))

    async def get_record(self, request: web.Request) -> web.Response:
        table = self._table(request)
        rec = table.records.get(request.match_info["record"])
        if rec is None:
            raise _fail(404, "NOT_FOUND")
        query = self._query_from_params(request)
        return web.json_response(self._record_json(table, rec, query))

    # -- writing

    def _output_query(self, body: Mapping[str, Any]) -> ListQuery:
        return ListQuery(by_field_id=bool(body.get("returnFieldsByFieldId")))

    async def create_records(self, request: web.Request) -> web.Response:
        table = self._table(request)
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _invalid("Invalid request: request body must be an object")
        typecast = bool(body.get("typecast"))
        out_q = self._output_query(body)
        if "fields" in body and "records" not in body:
            rec = StoredRecord(
                new_id("rec"), _now_iso(), self._values(table, body["fields"], typecast)
            )
            table.records[rec.id] = rec
            return web.json_response(self._record_json(table, rec, out_q))
        specs = self._records_payload(body)
        # validate every record before writing any, as Airtable does
        prepared = []
        for spec in specs:
            if not isinstance(spec, dict):
                raise _invalid("Invalid request: each record must be an object")
            prepared.append(self._values(table, spec.get("fields", {}), typecast))
        created = []
        for values in prepared:
            rec = StoredRecord(new_id("rec"), _now_iso(), values)
            table.records[rec.id] = rec
            created.append(self._record_json(table, rec, out_q))
        return web.json_response({"records": created})

    def _apply(self, rec: StoredRecord, values: dict[str, Any], destructive: bool) -> None:
        if destructive:
            rec.values = dict(values)
        else:
            rec.values.update(values)

    async def update_records(self, request: web.Request) -> web.Response:
        table = self._table(request)
        body = await self._json(request)
        specs = self._records_payload(body)
        typecast = bool(body.get("typecast"))
        destructive = request.method == "PUT"
        out_q = self._output_query(body)
        upsert = body.get("performUpsert")
        merge: list[FieldDef] | None = None
        if upsert is not None:
            keys = upsert.get("fieldsToMergeOn") if isinstance(upsert, dict) else None
            if not isinstance(keys, list) or not 1 <= len(keys) <= 3:
                raise _invalid("Invalid request: fieldsToMergeOn must list 1 to 3 fields")
            merge = []
            for key in keys:
                fdef = table.field_by_key(key)
                if fdef is None:
                    raise _fail(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{key}"')
                merge.append(fdef)
        plan: list[tuple[StoredRecord | None, dict[str, Any]]] = []
        for spec in specs:
            if not isinstance(spec, dict):
                raise _invalid("Invalid request: each record must be an object")
            values = self._values(table, spec.get("fields", {}), typecast)
            if "id" in spec:
                rec = table.records.get(spec["id"])
                if rec is None:
                    raise _fail(404, "NOT_FOUND")
                plan.append((rec, values))
                continue
            if merge is None:
                raise _invalid("Invalid request: each record needs an id")
            missing = [f.name for f in merge if f.id not in values]
            if missing:
                raise _fail(
                    422,
                    "INVALID_VALUE_FOR_COLUMN",
                    f"Record is missing fieldsToMergeOn field(s): {', '.join(missing)}",
                )
            matches = [
                r
                for r in table.records.values()
                if all(_same(r.values.get(f.id), values[f.id]) for f in merge)
            ]
            if len(matches) > 1:
                raise _fail(
                    422,
                    "INVALID_VALUE_FOR_COLUMN",
                    f"Cannot upsert: fieldsToMergeOn matched {len(matches)} records",
                )
            plan.append((matches[0] if matches else None, values))
        created_ids, updated_ids, out = [], [], []
        for existing, values in plan:
            if existing is None:
                rec = StoredRecord(new_id("rec"), _now_iso(), values)
                table.records[rec.id] = rec
                created_ids.append(rec.id)
            else:
                rec = existing
                self._apply(rec, values, destructive)
                updated_ids.append(rec.id)
            out.append(self._record_json(table, rec, out_q))
        response: dict[str, Any] = {"records": out}
        if merge is not None:
            response["createdRecords"] = created_ids
            response["updatedRecords"] = updated_ids
        return web.json_response(response)

    async def update_record(self, request: web.Request) -> web.Response:
        table = self._table(request)
        rec = table.records.get(request.match_info["record"])
        if rec is None:
            raise _fail(404, "NOT_FOUND")
        body = await self._json(request)
        if not isinstance(body, dict):
            raise _invalid("Invalid request: request body must be an object")
        values = self._values(table, body.get("fields", {}), bool(body.get("typecast")))
        self._apply(rec, values, request.method == "PUT")
        return web.json_response(self._record_json(table, rec, self._output_query(body)))

    async def delete_records(self, request: web.Request) -> web.Response:
        table = self._table(request)
        ids = request.query.getall("records[]", [])
        if not ids:
            raise _invalid("Invalid request: give records[] to delete")
        if len(ids) > 10:
            raise _fail(
                422, "INVALID_RECORDS", "You can only operate on up to 10 records at a time"
            )
        for rid in ids:
            if rid not in table.records:
                raise _fail(404, "NOT_FOUND")
        for rid in ids:
            del table.records[rid]
        return web.json_response({"records": [{"id": rid, "deleted": True} for rid in ids]})

    async def delete_record(self, request: web.Request) -> web.Response:
        table = self._table(request)
        rid = request.match_info["record"]
        if table.records.pop(rid, None) is None:
            raise _fail(404, "NOT_FOUND")
        return web.json_response({"id": rid, "deleted": True})

    async def upload_attachment(self, request: web.Request) -> web.Response:
        base = self._base(request.match_info["base"])
        rid = request.match_info["record"]
        found = [(t, t.records[rid]) for t in base.tables if rid in t.records]
        if not found:
            raise _fail(404, "NOT_FOUND")
        table, rec = found[0]
        fdef = table.field_by_key(request.match_info["field"])
        if fdef is None:
            raise _fail(
                422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{request.match_info["field"]}"'
            )
        if fdef.type != "multipleAttachments":
            raise _fail(
                422, "INVALID_FIELD_TYPE", f'Field "{fdef.name}" is not an attachment field'
            )
        body = await self._json(request)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("contentType", "file", "filename")
        ):
            raise _invalid("Invalid request: contentType, file and filename are required")
        try:
            data = base64.b64decode(body["file"], validate=True)
        except ValueError:
            raise _invalid("Invalid request: file must be base64") from None
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise _fail(413, "INVALID_ATTACHMENT_SIZE", "Attachments are limited to 5 MB")
        att_id = new_id("att")
        self.attachments[att_id] = (body["contentType"], data)
        host = f"{request.scheme}://{request.host}"
        attachment = {
            "id": att_id,
            "url": f"{host}/_emulator/attachments/{att_id}/{body['filename']}",
            "filename": body["filename"],
            "size": len(data),
            "type": body["contentType"],
        }
        rec.values[fdef.id] = [*(rec.values.get(fdef.id) or []), attachment]
        return web.json_response(
            {
                "id": rec.id,
                "createdTime": rec.created_time,
                "fields": {fdef.id: rec.values[fdef.id]},
            }
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def _sort_by(field_id: str) -> Callable[[StoredRecord], tuple[int, Any]]:
    return lambda rec: _sort_key(rec.values.get(field_id))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).lower())


def _base_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "v0":
        if parts[1] == "meta":
            return parts[3] if len(parts) >= 4 and parts[2] == "bases" else None
        return parts[1]
    return None


def _error_response(failure: ApiFailure) -> web.Response:
    return web.json_response({"error": failure.error}, status=failure.status)


async def serve(host: str, port: int, rate_limit: int, penalty_seconds: float) -> None:
    emulator = AirtableEmulator(rate_limit=rate_limit, penalty_seconds=penalty_seconds)
    runner = web.AppRunner(emulator.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Airtable API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8710)
    parser.add_argument("--rate-limit", type=int, default=5, help="requests per second per base")
    parser.add_argument("--penalty-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1")
    asyncio.run(serve(args.host, args.port, args.rate_limit, args.penalty_seconds))


if __name__ == "__main__":
    main()
