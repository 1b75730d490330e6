"""Pieces both Airtable clients share: options, 1.4's result shapes and attributes,
attachment reading."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from mimeiapify.airtable.protocol import MAX_ATTACHMENT_BYTES, AirtableProtocol, Record
from mimeiapify.errors import AirtableValidationError


class ListOptions(TypedDict, total=False):
    """Options of Airtable's listRecords, in Python spelling."""

    view: str
    fields: Sequence[str]
    sort: Sequence[str | Mapping[str, str]]
    max_records: int
    page_size: int
    cell_format: str
    time_zone: str
    user_locale: str
    return_fields_by_field_id: bool


def flatten(records: list[Record]) -> list[dict[str, Any]]:
    """1.4's row shape: each record's fields plus ``record_id``."""
    return [{**r.get("fields", {}), "record_id": r.get("id")} for r in records]


def shape(records: list[Record], json_format: bool, raw: bool) -> Any:
    """What ``fetch_records`` returns: a DataFrame of :func:`flatten` rows (1.4's
    default), ``{"records": rows}`` with ``json_format``, or the API's own
    records (``id``, ``createdTime``, ``fields``) with ``raw``."""
    if raw:
        return records
    rows = flatten(records)
    if json_format:
        return {"records": rows}
    import pandas as pd  # heavy; loaded on the first DataFrame

    return pd.DataFrame(rows)


class ClientAttributes:
    """The attributes 1.4's clients had (``base_id``, ``api_key``, ``headers``),
    read from the client's protocol."""

    protocol: AirtableProtocol

    @property
    def base_id(self) -> str:
        return self.protocol.base_id

    @property
    def api_key(self) -> str:
        return self.protocol.api_key

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.protocol.api_key}"}


def read_attachment(
    file_path: str | Path | None,
    content: bytes | None,
    filename: str | None,
    content_type: str | None,
) -> tuple[bytes, str, str]:
    """Resolve (content, filename, content_type), refusing files over 5 MB unread."""
    if (file_path is None) == (content is None):
        raise AirtableValidationError("give exactly one of file_path or content", field="file_path")
    if file_path is not None:
        path = Path(file_path)
        if not path.is_file():
            raise AirtableValidationError(f"no such file: {path}", field="file_path")
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            raise AirtableValidationError(
                f"{path.name} is {size} bytes; the upload limit is 5 MB", field="file_path"
            )
        content = path.read_bytes()
        filename = filename or path.name
    assert content is not None
    if not filename:
        raise AirtableValidationError("filename is required with content", field="filename")
    guessed = mimetypes.guess_type(filename)[0]
    return content, filename, content_type or guessed or "application/octet-stream"
