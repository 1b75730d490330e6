"""Which rules and workflows an event type wakes up.

Shared by the event processor (which runs them) and the workflow engine (which
records a run's completion event already processed when nothing listens for
it, so the common case costs no rule evaluation at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from automation.models import AutomationRule, Workflow


def rule_listens(trigger: Mapping[str, Any], event_type: str) -> bool:
    """Whether a rule with ``trigger`` is triggered by events of ``event_type``."""
    pattern = trigger.get("event_type")
    return (
        trigger.get("type") == "event"
        and isinstance(pattern, str)
        and fnmatchcase(event_type, pattern)
    )


def workflow_listens(pattern: str | None, event_type: str) -> bool:
    """Whether an event-triggered workflow (or rule) with ``pattern`` starts on
    ``event_type``."""
    return bool(pattern) and fnmatchcase(event_type, pattern or "")


# Every event pattern a tenant's enabled rules and event workflows listen on; built
# once, since the engine asks at every claim (on databases other than PostgreSQL,
# whose claim statement reads the same patterns itself).
_LISTENER_PATTERNS = union_all(
    select(AutomationRule.trigger["event_type"].as_string().label("pattern")).where(
        AutomationRule.tenant_id == bindparam("p_tenant_id"),
        AutomationRule.enabled.is_(True),
        AutomationRule.trigger["type"].as_string() == "event",
    ),
    select(Workflow.event_type.label("pattern")).where(
        Workflow.tenant_id == bindparam("p_tenant_id"),
        Workflow.trigger_type == "event",
        Workflow.enabled.is_(True),
    ),
)


async def listener_patterns(db: AsyncSession | AsyncConnection, tenant_id: str) -> list[str | None]:
    """The event patterns of the tenant's enabled rules and event-triggered workflows."""
    return list((await db.execute(_LISTENER_PATTERNS, {"p_tenant_id": tenant_id})).scalars())


def any_listens(patterns: list[str | None], event_type: str) -> bool:
    return any(workflow_listens(p, event_type) for p in patterns)
