"""The Wompi connector: :mod:`.protocol` (the I/O-free core: checkout URLs,
signatures, request plans), :mod:`.sync_client` (:class:`Wompi`, on requests),
:mod:`.async_client` (:class:`WompiAsync`, on aiohttp) and :mod:`.webhook`
(verify and parse events in FastAPI/Starlette).

``mimeiapify.wompi.wompi_async`` (1.4's path) and ``mimeiapify.wompi_async``
(the seed's) re-export the async client. The clients load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimeiapify.wompi.async_client import WompiAsync
    from mimeiapify.wompi.protocol import WompiProtocol
    from mimeiapify.wompi.sync_client import Wompi

_LAZY = {
    "Wompi": "mimeiapify.wompi.sync_client",
    "WompiAsync": "mimeiapify.wompi.async_client",
    "WompiProtocol": "mimeiapify.wompi.protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mimeiapify.wompi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Wompi", "WompiAsync", "WompiProtocol"]
