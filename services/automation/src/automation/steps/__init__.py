"""Built-in step types (they register on import).

``http_request``, ``data_transform``, ``condition`` (alias ``branch``) and ``delay``
live in :mod:`automation.steps.builtin`; ``airtable`` and
``flowmesh_publish`` in :mod:`automation.steps.connectors`; ``run_workflow`` with the rules
(:mod:`automation.rules.actions`). See :mod:`automation.registry` for adding more.
"""

from automation.steps import builtin, connectors

__all__ = ["builtin", "connectors"]
