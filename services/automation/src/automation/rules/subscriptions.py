"""Which rules and workflows an event type wakes up.

Shared by the event processor (which runs them) and the workflow engine (which
records a run's completion event already processed when nothing listens for
it, so the common case costs no rule evaluation at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

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


async def has_listeners(session: AsyncSession, tenant_id: str, event_type: str) -> bool:
    """Whether any enabled rule or event-triggered workflow of the tenant matches
    ``event_type``: one query for both patterns, read in the caller's transaction."""
    rule_patterns = select(AutomationRule.trigger["event_type"].as_string().label("pattern")).where(
        AutomationRule.tenant_id == tenant_id,
        AutomationRule.enabled.is_(True),
        AutomationRule.trigger["type"].as_string() == "event",
    )
    workflow_patterns = select(Workflow.event_type.label("pattern")).where(
        Workflow.tenant_id == tenant_id,
        Workflow.trigger_type == "event",
        Workflow.enabled.is_(True),
    )
    patterns = await session.execute(union_all(rule_patterns, workflow_patterns))
    return any(workflow_listens(p, event_type) for p in patterns.scalars())
