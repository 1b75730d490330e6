"""Checking one incoming batch, free of I/O: headers and body in, records out."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from common_mesh.protocol import (
    BATCH_COUNT_HEADER,
    BATCH_ID_HEADER,
    MAX_BATCH_BYTES,
    MAX_BATCH_MODELS,
)

__all__ = ["MAX_GZIP_MEMBERS", "BatchRejected", "DecodedBatch", "decode_batch"]

MAX_GZIP_MEMBERS = MAX_BATCH_MODELS
_GZIP_MAGIC = b"\x1f\x8b"


class BatchRejected(Exception):
    """The batch is malformed; ``status`` is the HTTP answer, ``field`` what was wrong."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DecodedBatch:
    batch_id: str
    records: list[bytes]
    raw_bytes: int


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(name.lower()) or headers.get(name)


def _inflate(body: bytes, limit: int) -> bytes:
    """Every member of a (possibly multi-member) gzip body, as ``gzip -d`` gives them;
    anything after a member that is not another member is refused, never dropped."""
    out = bytearray()
    data = body
    for _member in range(MAX_GZIP_MEMBERS):
        inflater = zlib.decompressobj(47)  # 32 + 15: gzip or zlib container
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise BatchRejected(400, "body", f"body is not valid gzip: {exc}") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise BatchRejected(413, "body", f"uncompressed body exceeds {limit} bytes")
        if not inflater.eof:
            raise BatchRejected(400, "body", "gzip body is truncated")
        data = inflater.unused_data
        if not data:
            return bytes(out)
        if not data.startswith(_GZIP_MAGIC):
            raise BatchRejected(400, "body", "bytes after the gzip data are not another member")
    raise BatchRejected(400, "body", f"gzip body has more than {MAX_GZIP_MEMBERS} members")


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _parse(record: bytes, number: int) -> object:
    try:
        return json.loads(record, parse_constant=_no_constants)
    except ValueError as exc:
        raise BatchRejected(400, "body", f"line {number} is not JSON: {exc}") from None
    except RecursionError:
        raise BatchRejected(400, "body", f"line {number} is nested too deeply") from None


def decode_batch(
    headers: Mapping[str, str], body: bytes, max_bytes: int = MAX_BATCH_BYTES
) -> DecodedBatch:
    """Validate a batch request; raise :class:`BatchRejected` naming the bad part."""
    batch_id = _header(headers, BATCH_ID_HEADER) or ""
    if len(batch_id) != 32 or any(c not in "0123456789abcdef" for c in batch_id):
        raise BatchRejected(400, BATCH_ID_HEADER, f"{BATCH_ID_HEADER} must be 32 lowercase hex")
    encoding = (_header(headers, "Content-Encoding") or "identity").strip().lower()
    if encoding == "gzip":
        raw = _inflate(body, max_bytes)
    elif encoding == "identity":
        if len(body) > max_bytes:
            raise BatchRejected(413, "body", f"body exceeds {max_bytes} bytes")
        raw = body
    else:
        raise BatchRejected(415, "Content-Encoding", f"unsupported Content-Encoding {encoding!r}")
    records = [line for line in raw.split(b"\n") if line.strip()]
    if not records:
        raise BatchRejected(400, "body", "batch holds no records")
    if len(records) > MAX_BATCH_MODELS:
        raise BatchRejected(400, "body", f"batch holds more than {MAX_BATCH_MODELS} records")
    for number, record in enumerate(records, start=1):
        value = _parse(record, number)
        if not isinstance(value, dict):
            raise BatchRejected(400, "body", f"line {number} is not a JSON object")
    declared = _header(headers, BATCH_COUNT_HEADER)
    if declared is not None and declared.strip() != str(len(records)):
        raise BatchRejected(
            400, BATCH_COUNT_HEADER,
            f"{BATCH_COUNT_HEADER} says {declared!r} but the body holds {len(records)} records",
        )  # fmt: skip
    return DecodedBatch(batch_id, records, len(raw))
