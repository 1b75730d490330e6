"""Change notices for live views (the WebSocket): "this queue, stream or KV
store changed", published by the operations after a write, whichever edge
(gRPC or HTTP) the write came through.

Unlike :class:`~flowmesh.server.notify.Notifier` (which hands a new job to one
waiting worker), every watcher of a topic gets every notice. Publishing to a
topic nobody watches costs one dict lookup. A watcher that falls behind loses
the oldest notices (its queue is bounded), never blocks the writer.
"""

from __future__ import annotations

import asyncio
from typing import Any

Notice = dict[str, Any]


def topic(kind: str, path: str) -> str:
    """``kind``: stream, queue or kv; ``path``: tenant/namespace/name."""
    return f"{kind}:{path}"


class ChangeFeed:
    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Queue[Notice]]] = {}

    def watched(self, name: str) -> bool:
        return name in self._watchers

    def publish(self, name: str, notice: Notice) -> None:
        for queue in self._watchers.get(name, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(notice)

    def watch(self, name: str, queue: asyncio.Queue[Notice]) -> None:
        self._watchers.setdefault(name, set()).add(queue)

    def unwatch(self, name: str, queue: asyncio.Queue[Notice]) -> None:
        watchers = self._watchers.get(name)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self._watchers[name]
