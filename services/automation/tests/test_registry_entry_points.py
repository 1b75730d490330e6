"""Built-in step and action types come through the entry points, like any plugin.

``automation.registry`` used to import ``automation.steps`` and
``automation.rules.actions``, which import the registry back (a hidden cycle).
A fresh interpreter shows the registry module alone loads neither, and that
every built-in is there once the registry is used.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import automation.registry

BUILT_IN_MODULES = (
    "automation.steps",
    "automation.steps.builtin",
    "automation.steps.connectors",
    "automation.rules.actions",
)
BUILT_IN_TYPES = {
    "http_request", "data_transform", "condition", "branch", "delay",  # steps.builtin
    "airtable", "flowmesh_publish",  # steps.connectors
    "run_workflow", "workflow",  # rules.actions
    "webhook", "notification", "whatsapp",  # their own subpackages
}  # fmt: skip

PROBE = f"""
import json, sys
from automation.registry import registry
modules = {list(BUILT_IN_MODULES)!r}
before = sorted(m for m in modules if m in sys.modules)
names = registry.names()
import automation.steps.builtin as builtin
same = registry.get("http_request") is builtin.HTTP_REQUEST
print(json.dumps({{"before": before, "names": names, "same": same,
                  "steps": registry.names("step"), "actions": registry.names("action")}}))
"""


def test_the_registry_imports_no_built_in_module_yet_has_every_built_in() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [], f"importing the registry loaded {seen['before']}"
    assert set(seen["names"]) >= BUILT_IN_TYPES, sorted(BUILT_IN_TYPES - set(seen["names"]))
    assert seen["same"]
    assert {"condition", "delay", "http_request"} <= set(seen["steps"])
    assert "condition" not in seen["actions"] and "run_workflow" in seen["actions"]


def test_the_registry_source_names_no_built_in_module() -> None:
    tree = ast.parse(Path(automation.registry.__file__).read_text())
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}  # fmt: skip
    assert not imported & set(BUILT_IN_MODULES), sorted(imported & set(BUILT_IN_MODULES))


def test_the_built_ins_are_declared_in_the_entry_point_group() -> None:
    declared = {
        ep.name: ep.value for ep in entry_points(group=automation.registry.ENTRY_POINT_GROUP)
    }
    assert declared["steps-builtin"] == "automation.steps.builtin:BUILTIN_STEP_TYPES"
    assert declared["steps-connectors"] == "automation.steps.connectors:CONNECTOR_STEP_TYPES"
    assert declared["rules"] == "automation.rules.actions:RULE_ACTION_TYPES"
