"""Bearer tokens, each allowed a set of tenants.

Configured as ``token1=tenantA,tenantB;token2=tenantC`` (the ``FLOWMESH_TOKENS``
variable) or a file with one ``token=tenants`` entry per line (``#`` starts a
comment). A tenant of ``*`` allows every tenant. No tokens at all means the
server runs open.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flowmesh.server.errors import PermissionDenied, Unauthenticated

__all__ = ["OPEN", "Authenticator", "Caller", "PermissionDenied", "Unauthenticated", "parse_tokens"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the tenants their token may touch (None: any, the server is open).

    Transports authenticate and hand this to the operations, which check every
    tenant a call touches.
    """

    tenants: frozenset[str] | None = None

    def check(self, tenant: str) -> None:
        Authenticator.check(self.tenants, tenant)

    def sees(self, tenant: str) -> bool:
        return self.tenants is None or "*" in self.tenants or tenant in self.tenants


OPEN = Caller()


def parse_tokens(text: str, source: str = "tokens") -> dict[str, frozenset[str]]:
    tokens: dict[str, frozenset[str]] = {}
    entries: Iterable[str] = (part for line in text.splitlines() for part in line.split(";"))
    for raw in entries:
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        token, sep, tenants = entry.partition("=")
        token = token.strip()
        allowed = frozenset(t.strip() for t in tenants.split(",") if t.strip())
        if not sep or not token or not allowed:
            raise ValueError(f"{source}: expected token=tenant[,tenant...], got an entry "
                             f"of {len(entry)} characters without that shape")  # fmt: skip
        tokens[token] = allowed
    return tokens


@dataclass
class Authenticator:
    tokens: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return not self.tokens

    def tenants_for(self, authorization: str | None) -> frozenset[str] | None:
        """The tenants a request may touch (None: any, the server is open)."""
        if self.open:
            return None
        if not authorization:
            raise Unauthenticated("missing bearer token (metadata 'authorization')")
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
        found: frozenset[str] | None = None
        # Compare against every token so timing does not reveal which one matched.
        for token, tenants in self.tokens.items():
            if hmac.compare_digest(token.encode(), presented.strip().encode()):
                found = tenants
        if found is None:
            raise Unauthenticated("unknown bearer token")
        return found

    def caller(self, authorization: str | None) -> Caller:
        """The caller behind an ``authorization`` value (raises Unauthenticated)."""
        return OPEN if self.open else Caller(self.tenants_for(authorization))

    @staticmethod
    def check(tenants: frozenset[str] | None, tenant: str) -> None:
        if tenants is None or "*" in tenants or tenant in tenants:
            return
        raise PermissionDenied(f"token may not access tenant {tenant!r}")
