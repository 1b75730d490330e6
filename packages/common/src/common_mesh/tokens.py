"""Receiver tokens, each scoped to orgs and stored only as its SHA-256.

Configured as ``<sha256-hex>:org1,org2`` entries separated by newlines or ``;``
(the ``MESH_TOKENS`` variable, or a file named by ``--tokens-file`` /
``MESH_TOKENS_FILE``; ``#`` starts a comment). An org of ``*`` allows every org.
``common-mesh hash-token`` turns a token into its hash. The old single
``MESH_TOKEN`` (the token itself, every org) still works, with a warning.

A presented token is hashed and compared with every stored hash in constant
time, so neither the comparison nor which entry matched shows in the timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ALL_ORGS",
    "TOKENS_ENV",
    "TOKENS_FILE_ENV",
    "TOKEN_ENV",
    "MeshTokens",
    "hash_token",
    "parse_token_entries",
]

ALL_ORGS = "*"
TOKENS_ENV = "MESH_TOKENS"
TOKENS_FILE_ENV = "MESH_TOKENS_FILE"
# deprecated: one unscoped token, kept for compatibility
TOKEN_ENV = "MESH_TOKEN"  # noqa: S105  (a variable name, not a secret)
_HEX = frozenset("0123456789abcdef")


def hash_token(token: str) -> str:
    """The SHA-256 of ``token`` as 64 lowercase hex characters (what the entries hold)."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token_entries(text: str, source: str = TOKENS_ENV) -> list[tuple[bytes, frozenset[str]]]:
    """``hash:org,org`` entries to (digest, orgs); a malformed entry raises ValueError
    naming the source and the entry's number, never its text."""
    entries: list[tuple[bytes, frozenset[str]]] = []
    parts: Iterable[str] = (part for line in text.splitlines() for part in line.split(";"))
    for number, raw in enumerate(parts, start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        digest, sep, orgs_text = entry.partition(":")
        digest = digest.strip().lower()
        orgs = frozenset(o.strip() for o in orgs_text.split(",") if o.strip())
        if not sep or len(digest) != 64 or not set(digest) <= _HEX or not orgs:
            raise ValueError(
                f"{source}: entry {number} must be '<sha256 hex of the token>:org[,org...]' "
                "(make the hash with 'common-mesh hash-token')"
            )
        entries.append((bytes.fromhex(digest), orgs))
    return entries


@dataclass(frozen=True)
class MeshTokens:
    """The receiver's tokens; none at all means the receiver is open."""

    entries: tuple[tuple[bytes, frozenset[str]], ...] = ()
    legacy: bool = False  # a MESH_TOKEN is among them

    @property
    def open(self) -> bool:
        return not self.entries

    @classmethod
    def build(
        cls, entries: Iterable[tuple[bytes, frozenset[str]]] = (), legacy_token: str | None = None
    ) -> MeshTokens:
        all_entries = list(entries)
        if legacy_token:
            all_entries.append((hashlib.sha256(legacy_token.encode()).digest(),
                                frozenset({ALL_ORGS})))  # fmt: skip
        return cls(tuple(all_entries), legacy=bool(legacy_token))

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], tokens_file: str | None = None
    ) -> MeshTokens:
        """Tokens from ``tokens_file`` (or ``MESH_TOKENS_FILE``), ``MESH_TOKENS`` and the
        deprecated ``MESH_TOKEN``."""
        entries: list[tuple[bytes, frozenset[str]]] = []
        path = tokens_file or environ.get(TOKENS_FILE_ENV)
        if path:
            entries += parse_token_entries(Path(path).read_text(), source=path)
        entries += parse_token_entries(environ.get(TOKENS_ENV, ""), source=TOKENS_ENV)
        return cls.build(entries, environ.get(TOKEN_ENV) or None)

    def orgs_for(self, authorization: str | None) -> frozenset[str] | None:
        """The orgs a ``Bearer`` token may write to; None when it is missing or unknown."""
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        digest = hashlib.sha256(presented.strip().encode()).digest()
        found: frozenset[str] | None = None
        for stored, orgs in self.entries:  # every entry, so timing says nothing
            if hmac.compare_digest(stored, digest):
                found = orgs
        return found

    @staticmethod
    def allows(orgs: frozenset[str], org: str) -> bool:
        return ALL_ORGS in orgs or org in orgs
