"""Checking a workflow definition as a whole: every problem at once.

Pydantic checks the shape of each step; this checks what only the whole
definition shows: unknown types, dangling references, cycles, branches,
template syntax, each type's own config rules and the trigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from automation import templating
from automation.registry import registry
from automation.schedule import cron_problems
from automation.workflows.schemas import StepSpec

BRANCHING_TYPES = ("condition", "branch")


def dependencies(steps: Sequence[StepSpec | dict[str, Any]]) -> dict[str, list[str]]:
    """Each step's prerequisites: its ``depends_on``, or else the step before it."""
    deps: dict[str, list[str]] = {}
    previous: str | None = None
    for raw in steps:
        step = raw if isinstance(raw, dict) else raw.model_dump()
        given = step.get("depends_on")
        deps[step["id"]] = list(given) if given is not None else ([previous] if previous else [])
        previous = step["id"]
    return deps


def _cycle(deps: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if state.get(dep) is None and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in deps:
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def step_problems(steps: Sequence[StepSpec]) -> list[str]:
    problems: list[str] = []
    ids = [s.id for s in steps]
    seen: set[str] = set()
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if step.id in seen:
            problems.append(f"{where}.id: duplicate step id {step.id!r}")
        seen.add(step.id)
        action_type = registry.get(step.type)
        if action_type is None or "step" not in action_type.usable_as:
            known = ", ".join(registry.names("step"))
            problems.append(f"{where}.type: unknown step type {step.type!r} (known: {known})")
        else:
            problems.extend(f"{where}.{p}" for p in action_type.problems(step.config))
        if action_type is None or action_type.render_config:
            problems.extend(templating.syntax_problems(step.config, f"{where}.config"))
        for dep in step.depends_on or []:
            if dep == step.id:
                problems.append(f"{where}.depends_on: a step cannot depend on itself")
            elif dep not in ids:
                problems.append(f"{where}.depends_on: unknown step {dep!r}")
        if step.retry.max_delay_seconds < step.retry.delay_seconds:
            problems.append(f"{where}.retry.max_delay_seconds: smaller than delay_seconds")

    deps = dependencies(steps)
    for i, step in enumerate(steps):
        if step.type not in BRANCHING_TYPES:
            continue
        for key in ("then", "else"):
            targets = step.config.get(key, [])
            if not isinstance(targets, list):
                continue
            for target in targets:
                if target not in ids:
                    problems.append(f"steps[{i}].config.{key}: unknown step {target!r}")
                elif step.id not in deps.get(target, []):
                    j = ids.index(target)
                    problems.append(
                        f"steps[{j}].depends_on: must include {step.id!r}, "
                        f"because the step is in its {key!r} branch"
                    )
    cycle = _cycle(deps)
    if cycle:
        problems.append(f"steps: dependency cycle {' -> '.join(cycle)}")
    return problems


def trigger_problems(trigger_type: str, config: dict[str, Any]) -> list[str]:
    if trigger_type == "schedule":
        return cron_problems(config.get("cron"), config.get("timezone"), "trigger_config")
    if trigger_type == "event":
        event_type = config.get("event_type")
        if not isinstance(event_type, str) or not event_type.strip():
            return ["trigger_config.event_type: required for an event trigger (e.g. 'user.*')"]
    return []


def workflow_problems(trigger_type: str, trigger_config: dict[str, Any],
                      steps: Sequence[StepSpec]) -> list[str]:  # fmt: skip
    return trigger_problems(trigger_type, trigger_config) + step_problems(steps)
