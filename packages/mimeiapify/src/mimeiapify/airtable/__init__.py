"""The Airtable connector: :mod:`.protocol` (the I/O-free core), :mod:`.sync_client`
(:class:`Airtable`, on requests) and :mod:`.async_client` (:class:`AirtableAsync`,
on aiohttp).

``mimeiapify.airtable.airtable``, ``mimeiapify.airtable.airtable_async`` (1.4's
paths) and ``mimeiapify.airtable_async`` (the seed's) re-export the clients.
The clients load on first use, so importing the protocol (as the emulators do)
does not import requests, aiohttp or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimeiapify.airtable.async_client import AirtableAsync
    from mimeiapify.airtable.protocol import AirtableProtocol
    from mimeiapify.airtable.sync_client import Airtable

_LAZY = {
    "Airtable": "mimeiapify.airtable.sync_client",
    "AirtableAsync": "mimeiapify.airtable.async_client",
    "AirtableProtocol": "mimeiapify.airtable.protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mimeiapify.airtable' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Airtable", "AirtableAsync", "AirtableProtocol"]
