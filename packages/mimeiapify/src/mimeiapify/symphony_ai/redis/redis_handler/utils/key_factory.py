"""Every Redis key name in one place, with reversible escaping of each component.

A key is ``{namespace}{tenant}:{kind}:{part}:...``. Each component is
percent-escaped for ``%``, ``:``, glob characters (``* ? [ ] \\``), cluster
hash-tag braces and whitespace, so a component can never split into two, never
act as a SCAN pattern and never collide with another tenant's key. ``unescape``
recovers the exact original text (``list_states`` relies on it).
"""

from __future__ import annotations

from typing import ClassVar, Final
from urllib.parse import unquote

from mimeiapify.symphony_ai.errors import InvalidKeyPartError

MAX_PART_LENGTH: Final = 1024
_SPECIAL: Final = "%:*?[]\\{} \t\r\n\x00"
_TABLE: Final = {ord(ch): f"%{ord(ch):02X}" for ch in _SPECIAL}
_GLOB: Final = frozenset("*?[]\\")


def escape(part: str, field: str = "key part") -> str:
    """Escape one key component; reject empty, non-string or oversized input."""
    if type(part) is not str and not isinstance(part, str):
        raise InvalidKeyPartError(field, f"expected a string, got {type(part).__name__}")
    if not part:
        raise InvalidKeyPartError(field, "must not be empty")
    if len(part) > MAX_PART_LENGTH:
        raise InvalidKeyPartError(field, f"longer than {MAX_PART_LENGTH} characters")
    return part.translate(_TABLE)


def unescape(part: str) -> str:
    """Inverse of :func:`escape`."""
    return unquote(part) if "%" in part else part


def escape_glob(pattern: str, field: str = "pattern") -> str:
    """Escape a user pattern for SCAN but keep its ``*`` and ``?`` wildcards."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidKeyPartError(field, "expected a non-empty string")
    out = []
    for ch in pattern:
        out.append(ch if ch in "*?" else ch.translate(_TABLE))
    return "".join(out)


class KeyFactory:
    """Builds every key; ``namespace`` prefixes all of them (set once per process)."""

    namespace: ClassVar[str] = ""

    @classmethod
    def set_namespace(cls, prefix: str) -> None:
        """Prefix every key (e.g. ``"myapp:"``), so several apps or test runs share a server."""
        if not isinstance(prefix, str):
            raise InvalidKeyPartError("key_prefix", "expected a string")
        if any(ch in _GLOB or ch.isspace() for ch in prefix):
            raise InvalidKeyPartError("key_prefix", "must not contain glob characters or spaces")
        cls.namespace = prefix

    # per-tenant root; every tenant-scoped key starts with it
    @classmethod
    def tenant(cls, tenant: str) -> str:
        return f"{cls.namespace}{escape(tenant, 'tenant')}:"

    @classmethod
    def user(cls, tenant_root: str, user_id: str) -> str:
        return f"{tenant_root}user:{escape(user_id, 'user_id')}"

    @classmethod
    def user_pattern(cls, tenant_root: str) -> str:
        return f"{tenant_root}user:*"

    @classmethod
    def handler(cls, tenant_root: str, state_name: str, user_id: str) -> str:
        return (
            f"{tenant_root}handler:{escape(user_id, 'user_id')}:{escape(state_name, 'state_name')}"
        )

    @classmethod
    def handler_pattern(cls, tenant_root: str, user_id: str) -> str:
        return f"{tenant_root}handler:{escape(user_id, 'user_id')}:*"

    @classmethod
    def shared_state(cls, tenant_root: str, user_id: str, state_name: str) -> str:
        return f"{tenant_root}state:{escape(user_id, 'user_id')}:{escape(state_name, 'state_name')}"

    @classmethod
    def shared_state_pattern(cls, tenant_root: str, user_id: str) -> str:
        return f"{tenant_root}state:{escape(user_id, 'user_id')}:*"

    @classmethod
    def table(cls, tenant_root: str, table: str, pkid: str) -> str:
        return f"{tenant_root}table:{escape(table, 'table')}:pk:{escape(pkid, 'pkid')}"

    @classmethod
    def table_pattern(cls, tenant_root: str, table: str) -> str:
        return f"{tenant_root}table:{escape(table, 'table')}:pk:*"

    @classmethod
    def table_pkid_pattern(cls, tenant_root: str, pkid: str) -> str:
        return f"{tenant_root}table:*:pk:{escape(pkid, 'pkid')}"

    @classmethod
    def batch(cls, tenant_root: str, service: str, batch_name: str, action: str) -> str:
        return (
            f"{tenant_root}batch:{escape(service, 'service')}:"
            f"{escape(batch_name, 'batch_name')}:{escape(action, 'action')}"
        )

    @classmethod
    def pending_batches(cls, service: str) -> str:
        # global (not tenant-scoped): the set of tenants with queued work for a service
        return f"{cls.namespace}pending_batch:{escape(service, 'service')}"

    @classmethod
    def trigger(cls, tenant_root: str, action: str, identifier: str) -> str:
        return f"{tenant_root}trigger:{escape(action, 'action')}:{escape(identifier, 'identifier')}"

    @classmethod
    def trigger_identifier_pattern(cls, tenant_root: str, identifier: str) -> str:
        return f"{tenant_root}trigger:*:{escape(identifier, 'identifier')}"

    @classmethod
    def trigger_claim(cls, trigger_key: str) -> str:
        return f"{trigger_key}:claimed"

    @classmethod
    def parse_trigger(cls, key: str) -> tuple[str, str, str] | None:
        """``(tenant, action, identifier)`` of a trigger key, or None for any other key."""
        ns = cls.namespace
        if not key.startswith(ns):
            return None
        parts = key[len(ns) :].split(":")
        if len(parts) != 4 or parts[1] != "trigger":
            return None
        return unescape(parts[0]), unescape(parts[2]), unescape(parts[3])

    @classmethod
    def generic(cls, tenant_root: str, key: str) -> str:
        return f"{tenant_root}generic:{escape(key, 'key')}"

    @classmethod
    def generic_pattern(cls, tenant_root: str, pattern: str) -> str:
        return f"{tenant_root}generic:{escape_glob(pattern)}"

    @classmethod
    def channel(cls, tenant_root: str, user_id: str) -> str:
        return f"{tenant_root}channel:{escape(user_id, 'user_id')}"

    @staticmethod
    def last_part(key: str) -> str:
        """The unescaped final component of a key."""
        return unescape(key.rsplit(":", 1)[-1])
