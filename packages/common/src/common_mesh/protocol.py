"""The mesh wire format, shared by the client and the receiver.

One batch is one HTTP request::

    POST /v1/streams/{org}/{module}/{model}/batches
    Content-Type: application/x-ndjson
    Content-Encoding: gzip            (or absent for an uncompressed body)
    X-Mesh-Batch-Id: 32 hex chars     (the same id on every retry of the batch)
    X-Mesh-Batch-Count: N             (how many lines the body holds)

    {"id": 1, ...}\\n{"id": 2, ...}\\n

The receiver answers ``200 {"batch_id", "accepted", "duplicate"}``; an id it has
already stored is answered with ``duplicate: true`` and stored nothing.
"""

from __future__ import annotations

import re

from common_mesh.errors import MeshNameError

__all__ = [
    "BATCH_COUNT_HEADER",
    "BATCH_ID_HEADER",
    "DEFAULT_PORT",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MODELS",
    "batch_path",
    "validate_batch_id",
    "validate_name",
]

DEFAULT_PORT = 8675
BATCH_ID_HEADER = "X-Mesh-Batch-Id"
BATCH_COUNT_HEADER = "X-Mesh-Batch-Count"
CONTENT_TYPE = "application/x-ndjson"
# Upper bound of a batch's uncompressed body, on both sides.
MAX_BATCH_BYTES = 16 * 1024 * 1024
# Upper bound of the models in one batch (one FlowMesh write takes up to 10,000).
MAX_BATCH_MODELS = 10_000

# Names become stream names; a strict alphabet keeps one tenant's names from
# reaching into another's (no separators, no "..", no empty parts).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
_BATCH_ID = re.compile(r"^[0-9a-f]{32}\Z")


def validate_name(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise MeshNameError(field, value, f"must be a string, not {type(value).__name__}")
    if not _NAME.fullmatch(value) or ".." in value:
        raise MeshNameError(
            field, value, "must be 1-128 characters of letters, digits, '_', '-', '.'"
        )
    return value


def validate_batch_id(value: str) -> str:
    if not _BATCH_ID.fullmatch(value):
        raise ValueError(f"{BATCH_ID_HEADER} must be 32 lowercase hex characters")
    return value


def batch_path(org: str, module: str, model: str) -> str:
    return (
        f"/v1/streams/{validate_name('org', org)}/{validate_name('module', module)}"
        f"/{validate_name('model', model)}/batches"
    )
