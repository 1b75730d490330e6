"""Routing the Redis store's hot path through a Redis Cluster.

Each command goes to the primary that owns its key's slot, over one pipelined
connection per node (:mod:`.resp`). The slot map comes from ``CLUSTER SLOTS``
and is reloaded after a ``MOVED`` reply (then the command is sent again: a
redirected command did not run) or a lost connection (a failover: the call
fails ``UNAVAILABLE`` and the client's retry finds the promoted replica).

A write is acknowledged only once ``replicas`` replicas hold it: ``WAIT`` is
written right behind it on the same connection. Redis replicates
asynchronously, so without it a primary that dies just after answering takes
the write with it; with it, the replica promoted in its place has it. A write
the replicas did not confirm in time fails ``UNAVAILABLE``; it may have been
applied, which the idempotent producer makes safe to retry.
"""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from flowmesh.server.store.resp import PipelinedConnection

Address = tuple[str, int]

WAIT_TIMEOUT_MS = 2000
_REDIRECTS = 3


class ClusterRouter:
    def __init__(
        self,
        seeds: list[Address],
        *,
        username: str | None = None,
        password: str | None = None,
        replicas: int = 1,
        wait_timeout_ms: int = WAIT_TIMEOUT_MS,
    ) -> None:
        if not seeds:
            raise ValueError("redis cluster: needs at least one node address")
        self.seeds = seeds
        self.replicas = replicas
        self._wait_ms = wait_timeout_ms
        self._auth = (username, password)
        self._starts: list[int] = []  # first slot of each range, sorted
        self._ranges: list[tuple[int, int, Address]] = []
        self._nodes: list[Address] = []  # every node the last map named, primaries first
        self._conns: dict[Address, PipelinedConnection] = {}
        self._stale = True
        self._lock = asyncio.Lock()

    @property
    def nodes(self) -> list[Address]:
        """The cluster's nodes as last seen (the seeds before the first map)."""
        return list(self._nodes or self.seeds)

    def _conn(self, address: Address) -> PipelinedConnection:
        conn = self._conns.get(address)
        if conn is None:
            conn = PipelinedConnection(address[0], address[1], 0, *self._auth,
                                       connect_timeout=2.0, timeout=10.0)  # fmt: skip
            self._conns[address] = conn
        return conn

    async def refresh(self) -> None:
        """Load the slot map from the first node that answers."""
        async with self._lock:
            if not self._stale and self._ranges:
                return
            last: Exception | None = None
            for address in dict.fromkeys([*self._nodes, *self.seeds]):
                try:
                    reply = await self._conn(address).execute("CLUSTER", "SLOTS")
                except RedisError as exc:
                    last = exc
                    continue
                ranges = sorted(
                    (int(r[0]), int(r[1]), (_text(r[2][0]) or address[0], int(r[2][1])))
                    for r in reply
                )
                replicas = [(_text(n[0]) or address[0], int(n[1])) for r in reply for n in r[3:]]
                self._ranges = ranges
                self._starts = [r[0] for r in ranges]
                self._nodes = list(dict.fromkeys([r[2] for r in ranges] + replicas))
                self._stale = False
                return
            raise RedisConnectionError(f"no redis cluster node answered CLUSTER SLOTS: {last!r}")

    def _owner(self, key: bytes | str) -> Address:
        slot = key_slot(key.encode() if isinstance(key, str) else key)
        i = bisect.bisect_right(self._starts, slot) - 1
        if i < 0 or not self._ranges[i][0] <= slot <= self._ranges[i][1]:
            self._stale = True
            raise RedisConnectionError(f"redis cluster: no node serves slot {slot}")
        return self._ranges[i][2]

    async def execute(self, key: bytes | str, *args: Any, write: bool = False) -> Any:
        """Run ``args`` on the primary owning ``key``; for a write, wait for replicas."""
        for _ in range(_REDIRECTS):
            if self._stale or not self._ranges:
                await self.refresh()
            conn = self._conn(self._owner(key))
            try:
                if not write or self.replicas <= 0:
                    return await conn.execute(*args)
                result, acked = await conn.execute_all(args, ("WAIT", self.replicas, self._wait_ms))
            except ResponseError as exc:
                if str(exc).startswith(("MOVED ", "ASK ")):  # not run there: follow the map
                    self._stale = True
                    continue
                raise
            except RedisError:
                self._stale = True  # a node went away: look again on the next call
                raise
            if int(acked) < self.replicas:
                raise RedisConnectionError(
                    f"redis cluster: write not confirmed by {self.replicas} replica(s) within "
                    f"{self._wait_ms} ms (set ?replicas=0 for a cluster without replicas)"
                )
            return result
        raise RedisConnectionError("redis cluster: slots kept moving; try again")

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
