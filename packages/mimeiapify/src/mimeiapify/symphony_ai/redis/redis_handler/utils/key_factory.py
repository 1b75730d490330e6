"""Every Redis key name in one place, in 1.4's layout, with reversible escaping.

Keys are laid out as 1.4 laid them out, so data written by either version is
found by the other::

    {tenant}:user:{user_id}                       RedisUser
    {tenant}:state:{handler_name}:{user_id}       RedisStateHandler
    {tenant}:SS:{state_name}:{user_id}            RedisSharedState
    {tenant}:df:{table}:pkid:{pkid}               RedisTable
    {tenant}:EXPTRIGGER:{action}:{identifier}     RedisTrigger
    {tenant}:batch:{service}:{entity}:{action}    RedisBatch (a list)
    pending_batches:{service}                     tenants with queued batches (a set)
    {tenant}:{key}                                RedisGeneric

Each component is percent-escaped for ``%``, ``:``, glob characters
(``* ? [ ] \\``), cluster hash-tag braces and whitespace, so a component can never
split into two, never act as a SCAN pattern and never reach another tenant's keys;
``unescape`` recovers the exact text. For names without those characters the
keys are byte-for-byte 1.4's. (1.4 turned ``:`` into ``_`` in some components,
which cannot be undone; RedisGeneric keys keep ``:`` as 1.4 did, since callers
use it to build their own hierarchies under the tenant.)

An optional process-wide ``namespace`` (``GlobalSymphonyConfig.key_prefix``)
goes in front of every key, so several apps or test runs can share a server.
"""

from __future__ import annotations

from typing import ClassVar, Final
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

from mimeiapify.symphony_ai.errors import InvalidKeyPartError

MAX_PART_LENGTH: Final = 1024
_SPECIAL: Final = "%:*?[]\\{} \t\r\n\x00"
_TABLE: Final = {ord(ch): f"%{ord(ch):02X}" for ch in _SPECIAL}
_GENERIC_TABLE: Final = {k: v for k, v in _TABLE.items() if k != ord(":")}
_GLOB: Final = frozenset("*?[]\\")
CLAIM_PREFIX: Final = "EXPCLAIM"


def _check(part: object, field: str) -> str:
    if not isinstance(part, str):
        raise InvalidKeyPartError(field, f"expected a string, got {type(part).__name__}")
    if not part:
        raise InvalidKeyPartError(field, "must not be empty")
    if len(part) > MAX_PART_LENGTH:
        raise InvalidKeyPartError(field, f"longer than {MAX_PART_LENGTH} characters")
    return part


def escape(part: str, field: str = "key part") -> str:
    """Escape one key component; reject empty, non-string or oversized input."""
    return _check(part, field).translate(_TABLE)


def unescape(part: str) -> str:
    """Inverse of :func:`escape`."""
    return unquote(part) if "%" in part else part


def escape_glob(pattern: str, field: str = "pattern", *, keep_colons: bool = False) -> str:
    """Escape a user pattern for SCAN but keep its ``*`` and ``?`` wildcards."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidKeyPartError(field, "expected a non-empty string")
    table = _GENERIC_TABLE if keep_colons else _TABLE
    return "".join(ch if ch in "*?" else ch.translate(table) for ch in pattern)


class KeyFactory(BaseModel):
    """Builds every key. Instances carry 1.4's prefixes (all overridable, as in 1.4);
    the ``namespace`` in front of every key is set once per process."""

    model_config = ConfigDict(frozen=True)

    namespace: ClassVar[str] = ""

    user_prefix: str = "user"
    handler_prefix: str = "state"
    table_prefix: str = "df"
    trigger_prefix: str = "EXPTRIGGER"
    batch_list_prefix: str = "batch"
    pending_set_prefix: str = "pending_batches"
    shared_state_prefix: str = "SS"
    pk_marker: str = "pkid"

    @classmethod
    def set_namespace(cls, prefix: str) -> None:
        """Prefix every key (e.g. ``"myapp:"``), so several apps or test runs share a server."""
        if not isinstance(prefix, str):
            raise InvalidKeyPartError("key_prefix", "expected a string")
        if any(ch in _GLOB or ch.isspace() for ch in prefix):
            raise InvalidKeyPartError("key_prefix", "must not contain glob characters or spaces")
        cls.namespace = prefix

    # ---- builders (1.4's signatures) -----------------------------------------------
    def tenant_root(self, tenant: str) -> str:
        """What every key of ``tenant`` starts with."""
        return f"{self.namespace}{escape(tenant, 'tenant')}:"

    def user(self, tenant: str, user_id: str) -> str:
        return f"{self.tenant_root(tenant)}{self.user_prefix}:{escape(user_id, 'user_id')}"

    def handler(self, tenant: str, name: str, user_id: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.handler_prefix}:"
            f"{escape(name, 'handler_name')}:{escape(user_id, 'user_id')}"
        )

    def table(self, tenant: str, table: str, pkid: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.table_prefix}:{escape(table, 'table')}:"
            f"{self.pk_marker}:{escape(pkid, 'pkid')}"
        )

    def trigger(self, tenant: str, action: str, ident: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.trigger_prefix}:"
            f"{escape(action, 'action')}:{escape(ident, 'identifier')}"
        )

    def shared_state(self, tenant: str, state_name: str, user_id: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.shared_state_prefix}:"
            f"{escape(state_name, 'state_name')}:{escape(user_id, 'user_id')}"
        )

    def batch_list(self, tenant: str, svc: str, entity: str, action: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.batch_list_prefix}:{escape(svc, 'service')}:"
            f"{escape(entity, 'entity_key')}:{escape(action, 'action')}"
        )

    def pending_set(self, svc: str) -> str:
        # global (not tenant-scoped): the set of tenants with queued work for a service
        return f"{self.namespace}{self.pending_set_prefix}:{escape(svc, 'service')}"

    def generic(self, tenant: str, key_base: str) -> str:
        """``{tenant}:{key_base}``; ``:`` in ``key_base`` is kept (as in 1.4)."""
        return f"{self.tenant_root(tenant)}{_check(key_base, 'key').translate(_GENERIC_TABLE)}"

    def channel(self, tenant: str, user_id: str) -> str:
        """A user's pub/sub channel (:class:`~mimeiapify.symphony_ai.redis.pubsub.UserChannel`)."""
        return f"{self.tenant_root(tenant)}channel:{escape(user_id, 'user_id')}"

    # ---- SCAN patterns -------------------------------------------------------------
    def user_pattern(self, tenant: str) -> str:
        return f"{self.tenant_root(tenant)}{self.user_prefix}:*"

    def handler_pattern(self, tenant: str, user_id: str) -> str:
        return f"{self.tenant_root(tenant)}{self.handler_prefix}:*:{escape(user_id, 'user_id')}"

    def shared_state_pattern(self, tenant: str, user_id: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.shared_state_prefix}:*:{escape(user_id, 'user_id')}"
        )

    def table_pattern(self, tenant: str, table: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.table_prefix}:{escape(table, 'table')}:"
            f"{self.pk_marker}:*"
        )

    def table_pkid_pattern(self, tenant: str, pkid: str) -> str:
        return (
            f"{self.tenant_root(tenant)}{self.table_prefix}:*:{self.pk_marker}:"
            f"{escape(pkid, 'pkid')}"
        )

    def trigger_identifier_pattern(self, tenant: str, ident: str) -> str:
        return f"{self.tenant_root(tenant)}{self.trigger_prefix}:*:{escape(ident, 'identifier')}"

    def generic_pattern(self, tenant: str, pattern: str) -> str:
        return f"{self.tenant_root(tenant)}{escape_glob(pattern, keep_colons=True)}"

    # ---- parsers -------------------------------------------------------------------
    def parse_trigger(self, key: str) -> tuple[str, str, str] | None:
        """``(tenant, action, identifier)`` of a trigger key, or None for any other key."""
        ns = self.namespace
        if not key.startswith(ns):
            return None
        parts = key[len(ns) :].split(":", 3)
        if len(parts) != 4 or parts[1] != self.trigger_prefix or not all(parts):
            return None
        return unescape(parts[0]), unescape(parts[2]), unescape(parts[3])

    def is_trigger_key(self, key: str) -> bool:
        return self.parse_trigger(key) is not None

    def trigger_claim(self, trigger_key: str) -> str:
        """Marks that one listener took an expired trigger: the trigger's key with
        ``EXPCLAIM`` in place of ``EXPTRIGGER``, so that no parser (ours or 1.4's)
        reads it as a trigger when it expires in turn."""
        parsed = self.parse_trigger(trigger_key)
        if parsed is None:
            raise InvalidKeyPartError("trigger_key", f"not a trigger key: {trigger_key!r}")
        tenant, action, ident = parsed
        return (
            f"{self.tenant_root(tenant)}{CLAIM_PREFIX}:"
            f"{escape(action, 'action')}:{escape(ident, 'identifier')}"
        )

    @staticmethod
    def part(key: str, index: int) -> str:
        """The unescaped component at ``index`` counted from the end (``-1``: the last),
        which the namespace in front cannot shift."""
        if index >= 0:
            raise ValueError("index: count from the end (negative), the namespace may hold ':'")
        return unescape(key.split(":")[index])


DEFAULT_KEYS: Final = KeyFactory()
default_key_factory = DEFAULT_KEYS  # 1.4's name
