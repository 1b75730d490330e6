"""Built-in step types (they register on import).

``http_request``, ``data_transform``, ``condition`` (alias ``branch``) and ``delay``
live here; ``run_workflow`` lives with the rules (:mod:`automation.rules.actions`).
See :mod:`automation.registry` for adding more.
"""

from automation.steps import builtin

__all__ = ["builtin"]
