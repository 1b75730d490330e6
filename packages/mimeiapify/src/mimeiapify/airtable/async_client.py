"""Async Airtable client on aiohttp.

>>> async with AirtableAsync(base_id="app...", api_key="pat...") as airtable:
...     records = await airtable.fetch_records("Tasks")

Every method runs a plan from :class:`~mimeiapify.airtable.protocol.AirtableProtocol`;
pacing (5 requests/second per base, shared with every other client of the
process), the 429 penalty and retries happen there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

import aiohttp

from mimeiapify._drivers import AsyncSession
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


class AirtableAsync(AsyncSession):
    """Async client for one Airtable base.

    Sessions: with no ``session`` each call opens and closes its own; inside
    ``async with`` one session serves the block; a caller's ``session`` is used
    and never closed.

    Settings: ``timeout`` (seconds per request, default 30), ``api_url``
    (default ``$AIRTABLE_API_URL``), ``content_url`` (``$AIRTABLE_CONTENT_URL``),
    ``rate_limit`` (requests per second per base, default 5),
    ``rate_limit_penalty`` (wait after a 429, default 30 s), ``retry`` (a
    :class:`~mimeiapify.RetryPolicy`).
    """

    def __init__(
        self,
        base_id: str,
        api_key: str,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 30.0,
        **settings: Unpack[AirtableSettings],
    ) -> None:
        self.protocol = AirtableProtocol(base_id, api_key, **settings)
        super().__init__(session, timeout)

    def __repr__(self) -> str:
        return f"AirtableAsync(base_id={self.protocol.base_id!r})"

    async def get_schema(self) -> dict[str, Any]:
        """Tables of the base with their fields and views."""
        return await self._run(self.protocol.get_schema())

    async def extract_table_ids(self, schema: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Map each table name to its id (fetches the schema when none is given)."""
        return await self._run(self.protocol.extract_table_ids(schema))

    async def create_fields(
        self, table_id: str, fields: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Create one field (a mapping) or several (a list); returns the created fields."""
        return await self._run(self.protocol.create_fields(table_id, fields))

    async def update_field(
        self,
        table_id: str,
        field_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Rename a field or change its description."""
        return await self._run(
            self.protocol.update_field(table_id, field_id, name=name, description=description)
        )

    async def fetch_records(
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
        return shape(await self._run(plan), as_dataframe)

    async def fetch_filtered_records(
        self,
        table_id: str,
        filter_by_formula: Formula | str,
        *,
        as_dataframe: bool = False,
        **options: Unpack[ListOptions],
    ) -> Any:
        """Every record matching the formula (a string or a :class:`Formula`)."""
        return await self.fetch_records(
            table_id, filter_by_formula, as_dataframe=as_dataframe, **options
        )

    async def iterate_pages(
        self, table_id: str, **options: Unpack[ListOptions]
    ) -> AsyncIterator[list[Record]]:
        """Yield one page (up to ``page_size`` records) at a time."""
        plan = self.protocol.iterate_pages(table_id, AirtableProtocol.list_options(**options))
        async for page in self._iterate(plan):
            yield page

    async def get_record(self, table_id: str, record_id: str) -> Record:
        """One record by id."""
        return await self._run(self.protocol.get_record(table_id, record_id))

    async def create_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        **options: Unpack[CreateOptions],
    ) -> list[Record]:
        """Create records (``{"fields": {...}}`` or bare field mappings), 10 per request."""
        return await self._run(self.protocol.create_records(table_id, records, **options))

    async def update_single_record(
        self,
        table_id: str,
        record_id: str,
        fields: Mapping[str, Any],
        **options: Unpack[UpdateOneOptions],
    ) -> Record:
        """Update one record's fields (replace them all with ``destructive=True``)."""
        return await self._run(
            self.protocol.update_single_record(table_id, record_id, fields, **options)
        )

    async def update_multiple_records(
        self,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        **options: Unpack[UpdateManyOptions],
    ) -> dict[str, Any]:
        """Update or (with ``fields_to_merge_on``) upsert records, 10 per request."""
        return await self._run(self.protocol.update_multiple_records(table_id, records, **options))

    async def delete_single_record(self, table_id: str, record_id: str) -> dict[str, Any]:
        """Delete one record; returns ``{"id": ..., "deleted": True}``."""
        return await self._run(self.protocol.delete_single_record(table_id, record_id))

    async def delete_multiple_records(
        self, table_id: str, record_ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Delete any number of records, 10 per request."""
        return await self._run(self.protocol.delete_multiple_records(table_id, record_ids))

    async def upload_attachment(
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
        return await self._run(
            self.protocol.upload_attachment(
                record_id, field, content=data, filename=name, content_type=ctype
            )
        )
