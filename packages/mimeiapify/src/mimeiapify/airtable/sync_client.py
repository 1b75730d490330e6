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
from mimeiapify.airtable._options import (
    CreateOptions,
    ListOptions,
    UpdateManyOptions,
    UpdateOneOptions,
    read_attachment,
    shape,
)
from mimeiapify.airtable.protocol import AirtableProtocol, AirtableSettings, Record
from mimeiapify.formula import Formula


class Airtable(SyncSession):
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
        field_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Rename a field or change its description."""
        return self._run(
            self.protocol.update_field(table_id, field_id, name=name, description=description)
        )

    def fetch_records(
        self,
        table_id: str,
        filter_by_formula: Formula | str | None = None,
        *,
        as_dataframe: bool = False,
        **options: Unpack[ListOptions],
    ) -> Any:
        """Every record of the table (all pages), as a list or a pandas DataFrame.

        ``filter_by_formula`` is a formula string or a :class:`Formula`. Options:
        view, fields, sort (``["Name", "-Age"]``), max_records, page_size,
        cell_format, time_zone, user_locale, return_fields_by_field_id.
        """
        query = AirtableProtocol.list_options(filter_by_formula=filter_by_formula, **options)
        plan = self.protocol.fetch_all(table_id, query)
        return shape(self._run(plan), as_dataframe)

    def fetch_filtered_records(
        self,
        table_id: str,
        filter_by_formula: Formula | str,
        *,
        as_dataframe: bool = False,
        **options: Unpack[ListOptions],
    ) -> Any:
        """Every record matching the formula (a string or a :class:`Formula`)."""
        return self.fetch_records(table_id, filter_by_formula, as_dataframe=as_dataframe, **options)

    def iterate_pages(
        self, table_id: str, **options: Unpack[ListOptions]
    ) -> Iterator[list[Record]]:
        """Yield one page (up to ``page_size`` records) at a time."""
        plan = self.protocol.iterate_pages(table_id, AirtableProtocol.list_options(**options))
        return self._iterate(plan)

    def get_record(self, table_id: str, record_id: str) -> Record:
        """One record by id."""
        return self._run(self.protocol.get_record(table_id, record_id))

    def create_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        **options: Unpack[CreateOptions],
    ) -> list[Record]:
        """Create records (``{"fields": {...}}`` or bare field mappings), 10 per request."""
        return self._run(self.protocol.create_records(table_id, records, **options))

    def update_single_record(
        self,
        table_id: str,
        record_id: str,
        fields: Mapping[str, Any],
        **options: Unpack[UpdateOneOptions],
    ) -> Record:
        """Update one record's fields (replace them all with ``destructive=True``)."""
        return self._run(self.protocol.update_single_record(table_id, record_id, fields, **options))

    def update_multiple_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        **options: Unpack[UpdateManyOptions],
    ) -> dict[str, Any]:
        """Update or (with ``fields_to_merge_on``) upsert records, 10 per request."""
        return self._run(self.protocol.update_multiple_records(table_id, records, **options))

    def delete_single_record(self, table_id: str, record_id: str) -> dict[str, Any]:
        """Delete one record; returns ``{"id": ..., "deleted": True}``."""
        return self._run(self.protocol.delete_single_record(table_id, record_id))

    def delete_multiple_records(
        self, table_id: str, record_ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Delete any number of records, 10 per request."""
        return self._run(self.protocol.delete_multiple_records(table_id, record_ids))

    def upload_attachment(
        self,
        record_id: str,
        field: str,
        file_path: str | Path | None = None,
        *,
        content: bytes | None = None,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> Record:
        """Upload a file (at most 5 MB) into an attachment field of a record."""
        data, name, ctype = read_attachment(file_path, content, filename, content_type)
        return self._run(
            self.protocol.upload_attachment(
                record_id, field, content=data, filename=name, content_type=ctype
            )
        )
