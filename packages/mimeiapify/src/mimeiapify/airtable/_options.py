"""Pieces both Airtable clients share: list options, attachment reading, DataFrames."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from mimeiapify.airtable.protocol import MAX_ATTACHMENT_BYTES, Record
from mimeiapify.errors import AirtableValidationError

if TYPE_CHECKING:
    import pandas as pd


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


class CreateOptions(TypedDict, total=False):
    typecast: bool
    return_fields_by_field_id: bool


class UpdateOneOptions(TypedDict, total=False):
    typecast: bool
    destructive: bool


class UpdateManyOptions(TypedDict, total=False):
    typecast: bool
    destructive: bool
    fields_to_merge_on: Sequence[str] | None
    return_fields_by_field_id: bool


def records_to_dataframe(records: list[Record]) -> pd.DataFrame:
    """One row per record: ``id``, ``createdTime`` and one column per field."""
    import pandas as pd  # heavy; only loaded when a DataFrame is asked for

    rows = [
        {"id": r.get("id"), "createdTime": r.get("createdTime"), **r.get("fields", {})}
        for r in records
    ]
    return pd.DataFrame(rows, columns=None if rows else ["id", "createdTime"])


def shape(records: list[Record], as_dataframe: bool) -> Any:
    return records_to_dataframe(records) if as_dataframe else records


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
