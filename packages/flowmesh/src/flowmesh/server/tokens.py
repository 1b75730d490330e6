"""Access tokens kept in the store: only a hash of each, with what it may do.

A token reads ``fmt_<id>_<secret>``: ``id`` (12 hex digits) finds the record,
the SHA-256 of the whole token is compared in constant time. The store never
holds the token itself, so it is printed once, at creation.

Permissions: ``stream:read``, ``stream:write``, ``queue:read``,
``queue:write``, ``kv:read``, ``kv:write``, ``admin`` (schemas and replay
sessions) and ``*`` (all of them).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from flowmesh.server.errors import InvalidArgument

PERMISSIONS = (
    "stream:read",
    "stream:write",
    "queue:read",
    "queue:write",
    "kv:read",
    "kv:write",
    "admin",
    "*",
)
PREFIX = "fmt_"
ID_HEX = 12


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What the store keeps of a token. ``namespaces`` empty: every namespace of
    the tenant; ``expires_at_ms``/``revoked_at_ms`` 0: never / not revoked."""

    token_id: str
    token_hash: str
    tenant: str
    namespaces: tuple[str, ...]
    permissions: tuple[str, ...]
    created_at_ms: int
    expires_at_ms: int = 0
    revoked_at_ms: int = 0
    description: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> TokenRecord:
        data = json.loads(text)
        data["namespaces"] = tuple(data["namespaces"])
        data["permissions"] = tuple(data["permissions"])
        return cls(**data)

    def public(self) -> dict[str, object]:
        """The record without its hash (for listings)."""
        out = asdict(self)
        del out["token_hash"]
        return out

    def expired(self, now_ms: int) -> bool:
        return bool(self.expires_at_ms) and now_ms >= self.expires_at_ms


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """The id part of a presented token, or None when it has not our shape."""
    if not token.startswith(PREFIX):
        return None
    token_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or len(token_id) != ID_HEX or not secret:
        return None
    return token_id


def check_permissions(values: Iterable[str], field: str = "permission") -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if value not in PERMISSIONS:
            raise InvalidArgument(field, f"must be one of {', '.join(PERMISSIONS)}, got {value!r}")
        if value not in out:
            out.append(value)
    return tuple(out) or ("*",)


def new_token(
    tenant: str,
    namespaces: Iterable[str] = (),
    permissions: Iterable[str] = (),
    expires_in_s: float = 0,
    description: str = "",
) -> tuple[str, TokenRecord]:
    """A fresh token (shown once) and the record to store. No permissions given
    means every permission; no namespaces, every namespace of the tenant."""
    from flowmesh.server import validation as v

    v.name(tenant, "tenant")
    spaces = tuple(dict.fromkeys(v.name(n, "namespace") for n in namespaces))
    perms = check_permissions(permissions)
    if expires_in_s < 0:
        raise InvalidArgument("expires_in", f"must be 0 (never) or more seconds, "
                              f"got {expires_in_s}")  # fmt: skip
    token_id = secrets.token_hex(ID_HEX // 2)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = int(time.time() * 1000)
    record = TokenRecord(
        token_id=token_id,
        token_hash=hash_token(token),
        tenant=tenant,
        namespaces=spaces,
        permissions=perms,
        created_at_ms=now,
        expires_at_ms=now + int(expires_in_s * 1000) if expires_in_s else 0,
        description=description,
    )
    return token, record
