"""Sync Airtable client on requests.

>>> with Airtable(base_id="app...", api_key="pat...") as airtable:
...     records = airtable.fetch_records("Tasks")

Every method runs a plan from :class:`~mimeiapify.airtable.protocol.AirtableProtocol`;
pacing (5 requests/second per base, shared with every other client of the
process), the 429 penalty and retries happen there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

import requests

from mimeiapify._drivers import SyncSession
from mimeiapify.airtable._options import ClientAttributes, ListOptions, read_attachment, shape
from mimeiapify.airtable.protocol import AirtableProtocol, AirtableSettings, Record
from mimeiapify.formula import Formula


class Airtable(ClientAttributes, SyncSession):
    """Sync client for one Airtable base.

    It keeps one ``requests.Session`` (pass your own as ``session``, which is
    then never closed); ``close()`` or ``with`` releases it. Settings as for
    :class:`~mimeiapify.airtable.AirtableAsync`. Give each thread its own client
    (a requests session is not meant to be shared); the per-base pacing is
    process-wide either way.
    """

    def __init__(
        self,
        base_id: str,
        api_key: str,
        session: requests.Session | None = None,
        *,
        timeout: float = 30.0,
        **settings: Unpack[AirtableSettings],
    ) -> None:
        self.protocol = AirtableProtocol(base_id, api_key, **settings)
        super().__init__(session, timeout)

    def __repr__(self) -> str:
        return f"Airtable(base_id={self.protocol.base_id!r})"

    def get_schema(self) -> dict[str, Any]:
        """Tables of the base with their fields and views."""
        return self._run(self.protocol.get_schema())

    def extract_table_ids(self, schema: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Map each table name to its id (fetches the schema when none is given)."""
        return self._run(self.protocol.extract_table_ids(schema))

    def create_fields(
        self, table_id: str, fields: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Create one field (a mapping) or several (a list); returns the created fields."""
        return self._run(self.protocol.create_fields(table_id, fields))

    def update_field(
        self,
        table_id: str,
        column_id: str,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Rename a field or change its description."""
        return self._run(
            self.protocol.update_field(table_id, column_id, name=name, description=description)
        )

    def fetch_records(
        self,
        table_id: str,
        json_format: bool = False,
        *,
        raw: bool = False,
        filter_by_formula: Formula | str | None = None,
        **options: Unpack[ListOptions],
    ) -> Any:
        """Every record of the table (all pages).

        As in 1.4: a pandas DataFrame of the fields plus ``record_id``, or
        ``{"records": [...]}`` of those rows with ``json_format=True``.
        ``raw=True`` returns Airtable's own records (``id``, ``createdTime``,
        ``fields``). ``filter_by_formula`` is a formula string or a
        :class:`Formula`. Options: view, fields, sort (``["Name", "-Age"]``),
        max_records, page_size, cell_format, time_zone, user_locale,
        return_fields_by_field_id.
        """
        query = AirtableProtocol.list_options(filter_by_formula=filter_by_formula, **options)
        records = self._run(self.protocol.fetch_all(table_id, query))
        return shape(records, json_format, raw)

    def fetch_filtered_records(
        self,
        table_id: str,
        filter_formula: Formula | str,
        json_format: bool = False,
        *,
        raw: bool = False,
        **options: Unpack[ListOptions],
    ) -> Any:
        """Every record matching the formula (a string or a :class:`Formula`), shaped
        as :meth:`fetch_records` shapes them."""
        return self.fetch_records(
            table_id, json_format, raw=raw, filter_by_formula=filter_formula, **options
        )

    def iterate_pages(
        self, table_id: str, **options: Unpack[ListOptions]
    ) -> Iterator[list[Record]]:
        """Yield one page (up to ``page_size`` raw records) at a time."""
        plan = self.protocol.iterate_pages(table_id, AirtableProtocol.list_options(**options))
        return self._iterate(plan)

    def get_record(self, table_id: str, record_id: str) -> Record:
        """One record by id."""
        return self._run(self.protocol.get_record(table_id, record_id))

    def create_records(
        self,
        table_id: str,
        records: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        typecast: bool = False,
        return_fields_by_field_id: bool = False,
    ) -> list[Record]:
        """Create one record or a list of them (``{"fields": {...}}`` or bare field
        mappings), 10 per request; returns the created records."""
        plan = self.protocol.create_records(
            table_id,
            records,
            typecast=typecast,
            return_fields_by_field_id=return_fields_by_field_id,
        )
        return self._run(plan)

    def update_single_record(
        self,
        table_id: str,
        record_id: str,
        fields: Mapping[str, Any],
        typecast: bool = False,
        return_fields_by_field_id: bool = False,
        *,
        destructive: bool = False,
    ) -> Record:
        """Update one record's fields (replace them all with ``destructive=True``)."""
        plan = self.protocol.update_single_record(
            table_id,
            record_id,
            fields,
            typecast=typecast,
            return_fields_by_field_id=return_fields_by_field_id,
            destructive=destructive,
        )
        return self._run(plan)

    def update_multiple_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        typecast: bool = False,
        return_fields_by_field_id: bool = False,
        perform_upsert: bool = False,
        fields_to_merge_on: Sequence[str] | None = None,
        *,
        destructive: bool = False,
    ) -> dict[str, Any]:
        """Update records, or upsert them with ``perform_upsert`` and
        ``fields_to_merge_on``, 10 per request; returns ``records``,
        ``createdRecords`` and ``updatedRecords``."""
        plan = self.protocol.update_multiple_records(
            table_id,
            records,
            typecast=typecast,
            return_fields_by_field_id=return_fields_by_field_id,
            perform_upsert=perform_upsert,
            fields_to_merge_on=fields_to_merge_on,
            destructive=destructive,
        )
        return self._run(plan)

    def delete_single_record(self, table_id: str, record_id: str) -> bool:
        """Delete one record; True once Airtable confirms it (errors raise)."""
        result = self._run(self.protocol.delete_single_record(table_id, record_id))
        return bool(result.get("deleted"))

    def delete_multiple_records(
        self, table_id: str, record_ids: str | Sequence[str]
    ) -> list[dict[str, Any]]:
        """Delete one record (an id) or any number (a list), 10 per request."""
        return self._run(self.protocol.delete_multiple_records(table_id, record_ids))

    def upload_attachment(
        self,
        record_id: str,
        attachment_field: str,
        content_type: str | None = None,
        file_bytes: bytes | None = None,
        filename: str | None = None,
        *,
        file_path: str | Path | None = None,
    ) -> Record:
        """Upload a file (at most 5 MB) into an attachment field of a record: the
        bytes (1.4's ``content_type, file_bytes, filename``) or ``file_path=``
        (name and type guessed from the path)."""
        data, name, ctype = read_attachment(file_path, file_bytes, filename, content_type)
        plan = self.protocol.upload_attachment(
            record_id, attachment_field, content=data, filename=name, content_type=ctype
        )
        return self._run(plan)
