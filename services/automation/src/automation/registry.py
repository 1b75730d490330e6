"""The step and action types workflows and rules can use, and how to add one.

A *type* is one thing the service can do: call an HTTP endpoint, transform data,
send a notification, deliver a webhook, write to Airtable... Workflow steps
(``{"id": ..., "type": ..., "config": {...}}``) and rule actions
(``{"type": ..., ...fields}``) both name a type; the same handler runs both.

Registering a type
------------------
Write an async handler and describe it with :class:`ActionType`::

    from automation.registry import ActionContext, ActionType, register

    async def send_sms(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
        # ``config`` is already rendered: every string in it went through the
        # sandboxed template engine with the step's data (input, steps, context).
        # ``ctx.tenant_id`` is the tenant the run belongs to; use ``ctx.database``
        # for rows (always filtered by that tenant) and ``ctx.settings`` for settings.
        ...
        return {"message_id": "..."}  # becomes ``steps.<id>.output``

    def check_sms(config: dict[str, Any]) -> list[str]:
        # Every problem with a config, as text naming the field; [] when it is fine.
        return [] if config.get("to") else ["to: required"]

    register(ActionType(name="sms", run=send_sms, validate=check_sms,
                        description="Send an SMS through the configured provider"))

Then make the module load with the service, either by importing it from a module
that is already imported, or (preferred for a separate subpackage such as
``automation.webhooks`` or ``automation.notifications``) with an entry point in
``services/automation/pyproject.toml``::

    [project.entry-points."automation.action_types"]
    webhook = "automation.webhooks.actions:WEBHOOK_ACTION"
    notification = "automation.notifications.actions:NOTIFICATION_ACTION"

An entry point may name one :class:`ActionType` or a list of them. Types load the
first time the registry is used, in every process (API, worker, beat). The
built-in types are registered the same way (``steps-builtin``,
``steps-connectors``, ``rules``): importing this module loads none of them.

Rules about handlers
--------------------
- Raise :class:`ActionError` (or any exception) to fail; the engine records the
  message, applies the step's retry policy, and never shows a traceback to users.
- Be idempotent where you can: a killed worker re-runs a step that had started
  but not finished. ``ctx.idempotency_key`` is stable across those re-runs.
- Do not sleep for long: return and let the engine schedule the wait (see the
  ``delay`` type); a step's ``timeout_seconds`` cancels a handler that hangs.
- Queue long work on the Celery queue of your kind (``notification``,
  ``webhook``) with :func:`automation.celery_app.queue_for`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.db import Database
    from automation.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "automation.action_types"


class ActionError(Exception):
    """A step or action failed; ``str(exc)`` is shown to the user as the error."""


@dataclass
class ActionContext:
    """What a handler may use while it runs."""

    tenant_id: str
    settings: Settings
    database: Database
    # "workflow" (a step of an execution) or "rule" (an action of a rule execution).
    source: str
    # The workflow execution or rule execution this run belongs to.
    run_id: str
    # The step id within the workflow, or "action-<n>" within a rule.
    step_id: str
    attempt: int = 1
    request_id: str | None = None
    # The data templates were rendered with (input, steps, context / event).
    scope: Mapping[str, Any] = field(default_factory=dict)
    # Send a Celery task by name: send(name, args, queue, countdown_seconds).
    send: Callable[[str, tuple[Any, ...], str | None, float | None], None] | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable for this step of this run, whatever the attempt."""
        return f"{self.source}:{self.run_id}:{self.step_id}"


Handler = Callable[[ActionContext, dict[str, Any]], Awaitable[Any]]
Validator = Callable[[dict[str, Any]], list[str]]


@dataclass(frozen=True)
class ActionType:
    """One type a workflow step or a rule action can have."""

    name: str
    run: Handler
    validate: Validator | None = None
    description: str = ""
    # False when the engine must not render the config before calling the
    # handler (the type evaluates templates itself, e.g. ``condition``).
    render_config: bool = True
    # Where the type may be used: "step", "action" or both.
    usable_as: frozenset[str] = frozenset({"step", "action"})
    # False for pure computations (no calls out, no writes): the engine may run
    # such a step again after a crash without recording its start first.
    side_effects: bool = True

    def problems(self, config: Any) -> list[str]:
        if not isinstance(config, dict):
            return ["config: must be an object"]
        if self.validate is None:
            return []
        return self.validate(config)


class Registry:
    """Types by name. The module-level :data:`registry` is the one the service uses."""

    def __init__(self) -> None:
        self._types: dict[str, ActionType] = {}
        self._plugins_loaded = False

    def register(self, action_type: ActionType, *, replace: bool = False) -> ActionType:
        if not action_type.name or not action_type.name.replace("_", "").isalnum():
            raise ValueError(f"type name {action_type.name!r} must be letters, digits and _")
        if action_type.name in self._types and not replace:
            existing = self._types[action_type.name]
            if existing is action_type:
                return action_type
            raise ValueError(f"type {action_type.name!r} is already registered")
        self._types[action_type.name] = action_type
        return action_type

    def get(self, name: str) -> ActionType | None:
        self.load_plugins()
        return self._types.get(name)

    def names(self, usable_as: str | None = None) -> list[str]:
        self.load_plugins()
        return sorted(
            n for n, t in self._types.items() if usable_as is None or usable_as in t.usable_as
        )

    def load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        # The built-in types come through the same entry points as any plugin
        # (services/automation/pyproject.toml), so this module imports none of
        # the modules that import it.
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            loaded = ep.load()
            for item in loaded if isinstance(loaded, list | tuple) else [loaded]:
                if not isinstance(item, ActionType):
                    raise TypeError(f"entry point {ep.name!r} does not name an ActionType")
                self.register(item)


registry = Registry()


def register(action_type: ActionType, *, replace: bool = False) -> ActionType:
    """Add a type to the service's registry (see the module docs)."""
    return registry.register(action_type, replace=replace)
