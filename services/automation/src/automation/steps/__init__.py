"""Built-in step types (registered through the ``automation.action_types`` entry points).

``http_request``, ``data_transform``, ``condition`` (alias ``branch``) and ``delay``
live in :mod:`automation.steps.builtin`; ``airtable`` and
``flowmesh_publish`` in :mod:`automation.steps.connectors`; ``run_workflow`` with the rules
(:mod:`automation.rules.actions`). See :mod:`automation.registry` for adding more.
"""

from automation.steps import builtin, connectors

__all__ = ["builtin", "connectors"]
