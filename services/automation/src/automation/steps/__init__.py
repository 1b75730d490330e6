"""Built-in step and action types (they register on import).

``http_request``, ``data_transform``, ``condition`` (alias ``branch``), ``delay``
and ``run_workflow`` live here; connector types (``airtable``,
``flowmesh_publish``) and the delivery types (``notification``, ``webhook``)
register from their own modules. See :mod:`automation.registry`.
"""

from automation.steps import builtin

__all__ = ["builtin"]
