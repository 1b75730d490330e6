"""The event loop the service's processes run on.

uvloop (a dependency on POSIX, as in uvicorn's "standard" install) where it
imports, else asyncio's own. Both the API server and the worker's task loop
come from here.
"""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # Windows, or an install without it
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
