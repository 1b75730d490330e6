"""The template sandbox shared by workflow steps, rules and notifications.

- :class:`BoundedSandbox`: Jinja's immutable sandbox with every operation,
  loop and output bounded and a deadline on every render.
- :class:`Limits`: the bounds; :class:`LimitExceeded` / :class:`RenderTimeout`
  when a render goes past them.
- :func:`time_limit`: a caller's deadline for the renders made inside it (a
  step's ``timeout_seconds``).
- :func:`off_loop`: run a render on the render threads, never on the event loop.
- :func:`static_problems`: what a parsed template shows to be over the limits
  (constant arithmetic, ranges, nested constant loops), for checks that never render.
"""

from automation.sandbox.budget import budget_scope, time_limit
from automation.sandbox.environment import BoundedSandbox
from automation.sandbox.limits import DEFAULT_LIMITS, LimitExceeded, Limits, RenderTimeout
from automation.sandbox.offload import off_loop
from automation.sandbox.static import static_problems

__all__ = [
    "DEFAULT_LIMITS",
    "BoundedSandbox",
    "LimitExceeded",
    "Limits",
    "RenderTimeout",
    "budget_scope",
    "off_loop",
    "static_problems",
    "time_limit",
]
