"""Webhooks and notifications share one delivery package, not each other's internals.

Leasing due rows, the retry schedule and rate limiting live in
:mod:`automation.delivery`; a module of one subpackage never imports the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import automation
import automation.delivery.leasing
import automation.delivery.ratelimit
import automation.delivery.retry
import automation.notifications.delivery
import automation.notifications.routes
import automation.webhooks
import automation.webhooks.delivery

ROOT = Path(automation.__file__).parent


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        found[path.name] = names
    return found


def test_notifications_import_nothing_from_webhooks_and_back() -> None:
    for package, other in (("notifications", "automation.webhooks"),
                           ("webhooks", "automation.notifications")):  # fmt: skip
        for module, names in _imports(package).items():
            crossing = sorted(n for n in names if n == other or n.startswith(other + "."))
            assert not crossing, f"{package}/{module} imports {crossing}"


def test_both_deliveries_use_the_shared_package() -> None:
    shared = {
        "claim_due": automation.delivery.leasing.claim_due,
        "RetrySchedule": automation.delivery.retry.RetrySchedule,
    }
    for module in (automation.webhooks.delivery, automation.notifications.delivery):
        for name, value in shared.items():
            assert getattr(module, name) is value, (module.__name__, name)
    limiter = automation.delivery.ratelimit.DeliveryLimiter
    assert automation.notifications.routes.DeliveryLimiter is limiter
    assert automation.webhooks.RetrySchedule is automation.delivery.retry.RetrySchedule
    # the old homes are gone, so nothing can drift back to them
    for old in ("leasing.py", "retry.py", "ratelimit.py"):
        assert not (ROOT / "webhooks" / old).exists(), old
