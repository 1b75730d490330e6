"""Who may call: bearer tokens, each allowed a tenant, namespaces and permissions.

Two sources of tokens:

* tokens kept in the store (``flowmesh token create``), stored only as hashes,
  each with one tenant, an optional namespace allow-list, permissions and an
  optional expiry; the server re-reads them every second, so a new token works
  and a revoked one stops (open subscriptions included) within about a second;
* fixed ``token=tenantA,tenantB`` entries (``FLOWMESH_TOKENS`` or
  ``--tokens-file``), each allowed every permission on its tenants (``*``:
  every tenant).

No tokens at all and no ``--require-auth`` means the server runs open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from flowmesh.server.errors import PermissionDenied, Unauthenticated
from flowmesh.server.tokens import TokenRecord, hash_token, token_id_of

if TYPE_CHECKING:
    from flowmesh.server.store.base import Store
    from flowmesh.server.store.records import Resource

__all__ = [
    "OPEN",
    "Authenticator",
    "Caller",
    "PermissionDenied",
    "Unauthenticated",
    "guarded",
    "parse_tokens",
]

log = logging.getLogger("flowmesh.server")
T = TypeVar("T")
REFRESH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling. ``None`` for tenants, namespaces or permissions: no limit
    (an open server's caller has none). ``ended`` is set when the caller's
    token is revoked or expires, which ends its open subscriptions.

    Transports authenticate and hand this to the operations, which check every
    resource a call touches.
    """

    tenants: frozenset[str] | None = None
    namespaces: frozenset[str] | None = None
    permissions: frozenset[str] | None = None
    token_id: str = ""
    ended: asyncio.Event | None = field(default=None, compare=False, hash=False)

    def check(
        self,
        tenant: str,
        namespace: str | None = None,
        permission: str | None = None,
        field: str = "resource_path",
    ) -> None:
        """Raise PermissionDenied unless the caller may do ``permission`` in the
        tenant (and namespace); the message names the request field at fault."""
        at = f"{field}." if field else ""
        Authenticator.check(self.tenants, tenant, f"{at}tenant")
        spaces = self.namespaces
        if namespace is not None and spaces is not None and namespace not in spaces:
            raise PermissionDenied(
                f"{at}namespace: token may not access namespace {namespace!r} "
                f"(allowed: {', '.join(sorted(spaces))})"
            )
        if permission is not None and not self.may(permission):
            raise PermissionDenied(f"token lacks the permission {permission!r} this call needs")

    def allow(self, resource: Resource, permission: str) -> None:
        self.check(resource.tenant, resource.namespace, permission)

    def may(self, permission: str) -> bool:
        perms = self.permissions
        return perms is None or "*" in perms or permission in perms

    def sees(
        self, tenant: str, namespace: str | None = None, permission: str | None = None
    ) -> bool:
        try:
            self.check(tenant, namespace, permission)
        except PermissionDenied:
            return False
        return True


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
    store: Store | None = None
    require_auth: bool = False
    refresh_seconds: float = REFRESH_SECONDS
    _stored: dict[str, TokenRecord] = field(default_factory=dict)
    _ended: dict[str, asyncio.Event] = field(default_factory=dict)
    _loaded: bool = False

    @property
    def open(self) -> bool:
        return not (self.require_auth or self.tokens or self._stored)

    # -- stored tokens
    async def refresh(self) -> None:
        """Re-read the stored tokens; end the callers of any that stopped being valid."""
        if self.store is None:
            return
        records = await self.store.token_list()
        was_open = self.open
        self._stored = {r.token_id: r for r in records}
        if was_open != self.open and self._loaded:
            if self.open:
                log.warning("no tokens left: server is OPEN, any client may access any tenant")
            else:
                log.warning("tokens exist now: every call needs a valid token")
        self._loaded = True
        now = int(time.time() * 1000)
        for token_id, ended in self._ended.items():
            record = self._stored.get(token_id)
            if record is None or record.revoked_at_ms or record.expired(now):
                ended.set()

    async def run(self) -> None:
        """Refresh forever (a failed refresh keeps the last tokens and retries)."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("token refresh failed", extra={"error": repr(exc)})

    # -- authentication
    def tenants_for(self, authorization: str | None) -> frozenset[str] | None:
        """The tenants a request may touch (None: any, the server is open)."""
        return self.caller(authorization).tenants

    def caller(self, authorization: str | None) -> Caller:
        """The caller behind an ``authorization`` value (raises Unauthenticated)."""
        if self.open:
            return OPEN
        if not authorization:
            raise Unauthenticated("authorization: missing bearer token (metadata or header "
                                  "'authorization: Bearer <token>')")  # fmt: skip
        scheme, _, presented = authorization.partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise Unauthenticated("authorization: must be 'Bearer <token>'")
        token_id = token_id_of(presented)
        if token_id is not None and token_id in self._stored:
            return self._stored_caller(self._stored[token_id], presented)
        found: frozenset[str] | None = None
        # Compare against every fixed token so timing does not reveal which one matched.
        for token, tenants in self.tokens.items():
            if hmac.compare_digest(token.encode(), presented.encode()):
                found = tenants
        if found is None:
            raise Unauthenticated("authorization: unknown bearer token")
        return Caller(found)

    def _stored_caller(self, record: TokenRecord, presented: str) -> Caller:
        if not hmac.compare_digest(record.token_hash, hash_token(presented)):
            raise Unauthenticated("authorization: unknown bearer token")
        if record.revoked_at_ms:
            raise Unauthenticated(f"authorization: token {record.token_id} was revoked")
        if record.expired(int(time.time() * 1000)):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.expires_at_ms / 1000))
            raise Unauthenticated(f"authorization: token {record.token_id} expired at {when}")
        ended = self._ended.get(record.token_id)
        if ended is None:
            ended = self._ended[record.token_id] = asyncio.Event()
        return Caller(
            tenants=frozenset({record.tenant}),
            namespaces=frozenset(record.namespaces) if record.namespaces else None,
            permissions=frozenset(record.permissions),
            token_id=record.token_id,
            ended=ended,
        )

    @staticmethod
    def check(tenants: frozenset[str] | None, tenant: str, field: str = "tenant") -> None:
        if tenants is None or "*" in tenants or tenant in tenants:
            return
        raise PermissionDenied(f"{field}: token may not access tenant {tenant!r}")


async def guarded(caller: Caller, source: AsyncIterator[T]) -> AsyncIterator[T]:
    """``source``'s items until it ends, or until the caller's token is revoked or
    expires (then Unauthenticated)."""
    ended = caller.ended
    if ended is None:
        async for item in source:
            yield item
        return
    gone = asyncio.ensure_future(ended.wait())
    try:
        while True:
            if ended.is_set():
                raise Unauthenticated(
                    f"authorization: token {caller.token_id} was revoked or expired"
                )
            step = asyncio.ensure_future(anext(source))
            await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                continue
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        gone.cancel()
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
