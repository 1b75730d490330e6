"""The Airtable protocol, free of I/O.

:class:`AirtableProtocol` turns each operation into a plan (see
:mod:`mimeiapify._plan`): which requests to send, how to page and batch, when
to wait for the per-base rate limit, when to retry, and which typed error an
answer means. :class:`~mimeiapify.airtable.Airtable` (requests) and
:class:`~mimeiapify.airtable.AirtableAsync` (aiohttp) only run the plans.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import quote, urlencode

from mimeiapify._plan import (
    CONNECTOR_RETRY,
    ApiErrors,
    Emit,
    HttpRequest,
    HttpResponse,
    Plan,
    RetryPolicy,
    call_json,
)
from mimeiapify.errors import (
    AirtableAuthError,
    AirtableConnectionError,
    AirtableError,
    AirtableNotFoundError,
    AirtableOutcomeUnknownError,
    AirtableRateLimitError,
    AirtableServerError,
    AirtableValidationError,
)
from mimeiapify.formula import Formula, to_formula
from mimeiapify.ratelimit import AIRTABLE_LIMITS

DEFAULT_API_URL = "https://api.airtable.com/v0"
DEFAULT_CONTENT_URL = "https://content.airtable.com/v0"
BATCH_SIZE = 10  # Airtable's limit of records per write request
MAX_PAGE_SIZE = 100
MAX_URL_LENGTH = 16_000
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024

_BASE_ID = re.compile(r"app[A-Za-z0-9]{14}")
_TABLE_ID = re.compile(r"tbl[A-Za-z0-9]{14}")
_RECORD_ID = re.compile(r"rec[A-Za-z0-9]{14}")
_FIELD_ID = re.compile(r"fld[A-Za-z0-9]{14}")

Record = dict[str, Any]


def check_base_id(value: Any) -> str:
    if not isinstance(value, str) or not _BASE_ID.fullmatch(value):
        raise AirtableValidationError(
            f"base_id must look like 'app' + 14 letters/digits, got {value!r}", field="base_id"
        )
    return value


def check_table(value: Any, name: str = "table_id") -> str:
    """A table id (``tbl…``) or a table name (any non-empty text)."""
    if not isinstance(value, str) or not value.strip():
        raise AirtableValidationError(
            f"{name} must be a table id ('tbl…') or a table name, got {value!r}", field=name
        )
    if value.startswith("tbl") and len(value) == 17 and not _TABLE_ID.fullmatch(value):
        raise AirtableValidationError(f"{name} is not a valid table id: {value!r}", field=name)
    return value


def check_record_id(value: Any, name: str = "record_id") -> str:
    if not isinstance(value, str) or not _RECORD_ID.fullmatch(value):
        raise AirtableValidationError(
            f"{name} must look like 'rec' + 14 letters/digits, got {value!r}", field=name
        )
    return value


def check_field_id(value: Any, name: str = "field_id") -> str:
    if not isinstance(value, str) or not _FIELD_ID.fullmatch(value):
        raise AirtableValidationError(
            f"{name} must look like 'fld' + 14 letters/digits, got {value!r}", field=name
        )
    return value


def _check_fields(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise AirtableValidationError(
            f"{name} must be a mapping of field name to value, got {type(value).__name__}",
            field=name,
        )
    for key in value:
        if not isinstance(key, str) or not key:
            raise AirtableValidationError(f"{name} has a bad field name {key!r}", field=name)
    return dict(value)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_from_response(response: HttpResponse) -> AirtableError:
    """The typed error for a non-2xx Airtable answer."""
    body = response.json_or_none()
    error_type: str | None = None
    message = f"Airtable answered {response.status}"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            error_type = err.get("type")
            message = err.get("message") or message
        elif isinstance(err, str):
            error_type = err
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            error_type = errors[0].get("error", error_type)
            message = errors[0].get("message") or message
    cls: type[AirtableError]
    status = response.status
    if status in (401, 403):
        cls = AirtableAuthError
    elif status == 404:
        cls = AirtableNotFoundError
    elif status == 429:
        cls = AirtableRateLimitError
    elif status in (400, 413, 422):
        cls = AirtableValidationError
    else:
        cls = AirtableServerError
    return cls(message, status=status, error_type=error_type, body=body)


class AirtableSettings(TypedDict, total=False):
    """Client settings beyond the base and key (see :class:`AirtableProtocol`)."""

    api_url: str | None
    content_url: str | None
    retry: RetryPolicy | None
    rate_limit: int
    rate_limit_penalty: float | None


_ERRORS = ApiErrors(
    "Airtable",
    error_from_response,
    AirtableOutcomeUnknownError,
    AirtableConnectionError,
    AirtableServerError,
)


class AirtableProtocol:
    """Everything an Airtable client decides, as plans.

    ``api_url`` defaults to ``$AIRTABLE_API_URL`` then the public API;
    ``content_url`` (attachment uploads) to ``$AIRTABLE_CONTENT_URL`` then the
    public content API. ``rate_limit`` requests per second per base are shared
    by every client of the process talking to the same base.
    """

    def __init__(
        self,
        base_id: str,
        api_key: str,
        *,
        api_url: str | None = None,
        content_url: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: int = 5,
        rate_window: float = 1.0,
        rate_limit_penalty: float | None = None,
    ) -> None:
        self.base_id = check_base_id(base_id)
        if not isinstance(api_key, str) or not api_key.strip():
            raise AirtableValidationError("api_key must be a non-empty string", field="api_key")
        self._api_key = api_key
        self.api_url = (api_url or os.environ.get("AIRTABLE_API_URL") or DEFAULT_API_URL).rstrip(
            "/"
        )
        self.content_url = (
            content_url or os.environ.get("AIRTABLE_CONTENT_URL") or DEFAULT_CONTENT_URL
        ).rstrip("/")
        self.retry = retry or CONNECTOR_RETRY
        if rate_limit_penalty is not None:
            if rate_limit_penalty < 0:
                raise AirtableValidationError(
                    "rate_limit_penalty must be >= 0", field="rate_limit_penalty"
                )
            self.retry = dataclasses.replace(self.retry, rate_limit_penalty=rate_limit_penalty)
        if rate_limit < 1:
            raise AirtableValidationError("rate_limit must be at least 1", field="rate_limit")
        self._schedule = AIRTABLE_LIMITS.schedule(
            f"{self.api_url}|{self.base_id}", rate_limit, rate_window
        )

    def __repr__(self) -> str:  # never show the token
        return f"AirtableProtocol(base_id={self.base_id!r}, api_url={self.api_url!r})"

    @property
    def api_key(self) -> str:
        return self._api_key

    # ------------------------------------------------------------ plumbing

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def _table_url(self, table: str) -> str:
        return f"{self.api_url}/{self.base_id}/{quote(table, safe='')}"

    def _meta_url(self, *parts: str) -> str:
        tail = "/".join(quote(p, safe="") for p in parts)
        return f"{self.api_url}/meta/bases/{self.base_id}/{tail}"

    def _call(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        json: Any = None,
        idempotent: bool = True,
    ) -> Plan[Any]:
        request = HttpRequest(
            method, url, tuple(params), json, self._headers, idempotent=idempotent
        )
        return (yield from call_json(request, self.retry, _ERRORS, pacing=self._schedule))

    # ------------------------------------------------------------ schema

    def get_schema(self) -> Plan[dict[str, Any]]:
        """The base's tables with their fields and views (``GET meta/bases/{base}/tables``)."""
        result = yield from self._call("GET", self._meta_url("tables"))
        return result

    @staticmethod
    def table_ids_from_schema(schema: Mapping[str, Any]) -> dict[str, str]:
        tables = schema.get("tables") if isinstance(schema, Mapping) else None
        if not isinstance(tables, list):
            raise AirtableValidationError("schema has no 'tables' list", field="schema")
        return {t["name"]: t["id"] for t in tables}

    def extract_table_ids(self, schema: Mapping[str, Any] | None = None) -> Plan[dict[str, str]]:
        """Map table name to table id, from ``schema`` or a fresh :meth:`get_schema`."""
        if schema is None:
            schema = yield from self.get_schema()
        return self.table_ids_from_schema(schema)

    def create_fields(
        self, table_id: str, fields: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Plan[list[dict[str, Any]]]:
        """Create one field or several (the API takes one field per request)."""
        check_table(table_id)
        batch = [fields] if isinstance(fields, Mapping) else list(fields)
        if not batch:
            raise AirtableValidationError("fields must not be empty", field="fields")
        for i, spec in enumerate(batch):
            if not isinstance(spec, Mapping) or not spec.get("name") or not spec.get("type"):
                raise AirtableValidationError(
                    f"fields[{i}] needs at least 'name' and 'type'", field="fields"
                )
        created = []
        for spec in batch:
            result = yield from self._call(
                "POST", self._meta_url("tables", table_id, "fields"), json=dict(spec)
            )
            created.append(result)
        return created

    def update_field(
        self,
        table_id: str,
        field_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Plan[dict[str, Any]]:
        """Rename a field or change its description."""
        check_table(table_id)
        check_field_id(field_id)
        body = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        if not body:
            raise AirtableValidationError("give name or description", field="name")
        result = yield from self._call(
            "PATCH", self._meta_url("tables", table_id, "fields", field_id), json=body
        )
        return result

    # ------------------------------------------------------------ reading

    @staticmethod
    def list_options(
        *,
        view: str | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[str | Mapping[str, str]] | None = None,
        filter_by_formula: Formula | str | None = None,
        max_records: int | None = None,
        page_size: int | None = None,
        cell_format: str | None = None,
        time_zone: str | None = None,
        user_locale: str | None = None,
        return_fields_by_field_id: bool = False,
    ) -> dict[str, Any]:
        """The listRecords options as Airtable's JSON body names them, validated."""
        options: dict[str, Any] = {}
        if view is not None:
            options["view"] = view
        if fields is not None:
            if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
                raise AirtableValidationError("fields must be a list of names", field="fields")
            options["fields"] = list(fields)
        if sort is not None:
            if isinstance(sort, str):
                raise AirtableValidationError(
                    "sort must be a list like ['Name', '-Age']", field="sort"
                )
            spec = []
            for item in sort:
                if isinstance(item, str):
                    desc = item.startswith("-")
                    spec.append({"field": item.lstrip("-"), "direction": "desc" if desc else "asc"})
                elif isinstance(item, Mapping) and "field" in item:
                    spec.append({"field": item["field"], "direction": item.get("direction", "asc")})
                else:
                    raise AirtableValidationError(f"bad sort entry {item!r}", field="sort")
            options["sort"] = spec
        if filter_by_formula is not None:
            text = to_formula(filter_by_formula)
            if text:
                options["filterByFormula"] = text
        if max_records is not None:
            if not isinstance(max_records, int) or max_records < 1:
                raise AirtableValidationError("max_records must be >= 1", field="max_records")
            options["maxRecords"] = max_records
        if page_size is not None:
            if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
                raise AirtableValidationError("page_size must be 1..100", field="page_size")
            options["pageSize"] = page_size
        if cell_format is not None:
            if cell_format not in ("json", "string"):
                raise AirtableValidationError(
                    "cell_format must be 'json' or 'string'", field="cell_format"
                )
            if cell_format == "string" and (time_zone is None or user_locale is None):
                raise AirtableValidationError(
                    "cell_format='string' needs time_zone and user_locale", field="cell_format"
                )
            options["cellFormat"] = cell_format
        if time_zone is not None:
            options["timeZone"] = time_zone
        if user_locale is not None:
            options["userLocale"] = user_locale
        if return_fields_by_field_id:
            options["returnFieldsByFieldId"] = True
        return options

    @staticmethod
    def _as_query(options: Mapping[str, Any]) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        for key, value in options.items():
            if key == "fields":
                params.extend(("fields[]", f) for f in value)
            elif key == "sort":
                for i, s in enumerate(value):
                    params.append((f"sort[{i}][field]", s["field"]))
                    params.append((f"sort[{i}][direction]", s["direction"]))
            elif isinstance(value, bool):
                params.append((key, "true" if value else "false"))
            else:
                params.append((key, str(value)))
        return params

    def list_page(
        self, table_id: str, options: Mapping[str, Any], offset: str | None = None
    ) -> Plan[tuple[list[Record], str | None]]:
        """One page of records; GET, or POST listRecords when the URL would be too long."""
        check_table(table_id)
        url = self._table_url(table_id)
        query = self._as_query(options)
        if offset:
            query.append(("offset", offset))
        if len(url) + 1 + len(urlencode(query)) < MAX_URL_LENGTH:
            body = yield from self._call("GET", url, params=query)
        else:
            payload = dict(options)
            if offset:
                payload["offset"] = offset
            body = yield from self._call("POST", f"{url}/listRecords", json=payload)
        return body.get("records", []), body.get("offset")

    def iterate_pages(self, table_id: str, options: Mapping[str, Any]) -> Plan[None]:
        """Emit each page (a list of records) as it arrives."""
        offset: str | None = None
        while True:
            records, offset = yield from self.list_page(table_id, options, offset)
            yield Emit(records)
            if not offset:
                return

    def fetch_all(self, table_id: str, options: Mapping[str, Any]) -> Plan[list[Record]]:
        """Every record, following the offsets to the last page."""
        records: list[Record] = []
        offset: str | None = None
        while True:
            page, offset = yield from self.list_page(table_id, options, offset)
            records.extend(page)
            if not offset:
                return records

    def get_record(
        self, table_id: str, record_id: str, options: Mapping[str, Any] | None = None
    ) -> Plan[Record]:
        check_table(table_id)
        check_record_id(record_id)
        query = self._as_query(options or {})
        result = yield from self._call(
            "GET", f"{self._table_url(table_id)}/{record_id}", params=query
        )
        return result

    # ------------------------------------------------------------ writing

    @staticmethod
    def _fields_of(record: Any, index: int) -> dict[str, Any]:
        """Accept ``{"fields": {...}}`` or a bare mapping of fields."""
        if isinstance(record, Mapping) and set(record) == {"fields"}:
            return _check_fields(record["fields"], f"records[{index}].fields")
        return _check_fields(record, f"records[{index}]")

    def create_records(
        self,
        table_id: str,
        records: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        typecast: bool = False,
        return_fields_by_field_id: bool = False,
    ) -> Plan[list[Record]]:
        """Create one record (a mapping) or any number (a list), 10 per request, in order."""
        check_table(table_id)
        if isinstance(records, Mapping):
            records = [records]
        if isinstance(records, str) or not isinstance(records, Sequence):
            raise AirtableValidationError("records must be a mapping or a list", field="records")
        rows = [{"fields": self._fields_of(r, i)} for i, r in enumerate(records)]
        created: list[Record] = []
        for chunk in _chunks(rows, BATCH_SIZE):
            body: dict[str, Any] = {"records": list(chunk), "typecast": typecast}
            if return_fields_by_field_id:
                body["returnFieldsByFieldId"] = True
            try:
                result = yield from self._call(
                    "POST", self._table_url(table_id), json=body, idempotent=False
                )
            except AirtableOutcomeUnknownError as unknown:
                # tell the caller exactly what is certainly written and what is in doubt
                unknown.payload = {"created": created, "in_doubt": list(chunk)}
                raise
            created.extend(result.get("records", []))
        return created

    def update_single_record(
        self,
        table_id: str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        typecast: bool = False,
        return_fields_by_field_id: bool = False,
        destructive: bool = False,
    ) -> Plan[Record]:
        """PATCH one record (PUT with ``destructive=True``, clearing unlisted fields)."""
        check_table(table_id)
        check_record_id(record_id)
        body = {"fields": _check_fields(fields, "fields"), "typecast": typecast}
        if return_fields_by_field_id:
            body["returnFieldsByFieldId"] = True
        result = yield from self._call(
            "PUT" if destructive else "PATCH",
            f"{self._table_url(table_id)}/{record_id}",
            json=body,
        )
        return result

    def update_multiple_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        typecast: bool = False,
        return_fields_by_field_id: bool = False,
        perform_upsert: bool = False,
        fields_to_merge_on: Sequence[str] | None = None,
        destructive: bool = False,
    ) -> Plan[dict[str, Any]]:
        """Update (or upsert) any number of records, 10 per request.

        Each record needs ``id`` and ``fields``. With ``perform_upsert`` (and
        ``fields_to_merge_on``, 1 to 3 field names) records without an id are
        upserted: those whose merge fields match one existing record update
        it, the others are created. Every record is checked before the first
        request is sent; ``fields_to_merge_on`` alone does not upsert (as in 1.4).

        Returns ``records``, ``createdRecords`` and ``updatedRecords`` (the
        last two are lists of ids, empty unless upserting).
        """
        check_table(table_id)
        if isinstance(records, Mapping) or not isinstance(records, Sequence):
            raise AirtableValidationError("records must be a list", field="records")
        rows: list[dict[str, Any]] = []
        merge: list[str] | None = None
        if perform_upsert:
            merge = list(fields_to_merge_on or ())
            if not merge or isinstance(fields_to_merge_on, str) or len(merge) > 3:
                raise AirtableValidationError(
                    "fields_to_merge_on must list 1 to 3 field names when perform_upsert is True",
                    field="fields_to_merge_on",
                )
        for i, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise AirtableValidationError(f"records[{i}] must be a mapping", field="records")
            fields = _check_fields(rec.get("fields"), f"records[{i}].fields")
            row: dict[str, Any] = {"fields": fields}
            if "id" in rec:
                row["id"] = check_record_id(rec["id"], f"records[{i}].id")
            elif merge is None:
                raise AirtableValidationError(
                    f"records[{i}] has no 'id' (needed unless perform_upsert is True)",
                    field="records",
                )
            if merge is not None and "id" not in row:
                missing = [m for m in merge if m not in fields]
                if missing:
                    raise AirtableValidationError(
                        f"records[{i}] lacks merge field(s) {missing}", field="fields_to_merge_on"
                    )
            rows.append(row)
        out: dict[str, Any] = {"records": [], "createdRecords": [], "updatedRecords": []}
        for chunk in _chunks(rows, BATCH_SIZE):
            body: dict[str, Any] = {"records": list(chunk), "typecast": typecast}
            if merge is not None:
                body["performUpsert"] = {"fieldsToMergeOn": merge}
            if return_fields_by_field_id:
                body["returnFieldsByFieldId"] = True
            result = yield from self._call(
                "PUT" if destructive else "PATCH", self._table_url(table_id), json=body
            )
            out["records"].extend(result.get("records", []))
            if merge is not None:
                out["createdRecords"].extend(result.get("createdRecords", []))
                out["updatedRecords"].extend(result.get("updatedRecords", []))
        return out

    def delete_single_record(self, table_id: str, record_id: str) -> Plan[dict[str, Any]]:
        check_table(table_id)
        check_record_id(record_id)
        result = yield from self._call("DELETE", f"{self._table_url(table_id)}/{record_id}")
        return result

    def delete_multiple_records(
        self, table_id: str, record_ids: str | Sequence[str]
    ) -> Plan[list[dict[str, Any]]]:
        """Delete one record (an id) or any number (a list), 10 per request."""
        check_table(table_id)
        if isinstance(record_ids, str):
            record_ids = [record_ids]
        if isinstance(record_ids, str) or not isinstance(record_ids, Sequence):
            raise AirtableValidationError("record_ids must be a list of ids", field="record_ids")
        ids = [check_record_id(r, f"record_ids[{i}]") for i, r in enumerate(record_ids)]
        deleted: list[dict[str, Any]] = []
        for chunk in _chunks(ids, BATCH_SIZE):
            result = yield from self._call(
                "DELETE", self._table_url(table_id), params=[("records[]", r) for r in chunk]
            )
            deleted.extend(result.get("records", []))
        return deleted

    def upload_attachment(
        self,
        record_id: str,
        field: str,
        *,
        content: bytes,
        filename: str,
        content_type: str,
    ) -> Plan[Record]:
        """Upload a file of at most 5 MB into an attachment field (content API)."""
        check_record_id(record_id)
        if not isinstance(field, str) or not field:
            raise AirtableValidationError("field must be a field id or name", field="field")
        if not isinstance(content, bytes | bytearray):
            raise AirtableValidationError("content must be bytes", field="content")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise AirtableValidationError(
                f"attachment is {len(content)} bytes; the upload limit is 5 MB "
                f"({MAX_ATTACHMENT_BYTES} bytes)",
                field="content",
            )
        if not filename:
            raise AirtableValidationError("filename must not be empty", field="filename")
        url = (
            f"{self.content_url}/{self.base_id}/{record_id}/"
            f"{quote(field, safe='')}/uploadAttachment"
        )
        body = {
            "contentType": content_type,
            "file": base64.b64encode(bytes(content)).decode("ascii"),
            "filename": filename,
        }
        # appending an attachment twice would duplicate it: not retried blindly
        result = yield from self._call("POST", url, json=body, idempotent=False)
        return result
