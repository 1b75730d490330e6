"""Small, dependency-light helpers shared by every mimeiapify service.

Each concern lives in its own module; import from the module you need::

    from common_core.strings import fold_diacritics
    from common_core.temporal import parse_datetime, parse_slack_ts
"""

__all__: list[str] = []
