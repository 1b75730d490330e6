"""The thread that owns the SQLite connection and group-commits queued calls.

Calls queue up while a transaction commits; the thread runs everything queued
in the next transaction (each call inside its own savepoint, so one failing
call rolls back alone), then commits once: one fsync covers many writers.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

Op = Callable[[sqlite3.Connection], Any]

_MAX_GROUP = 512  # calls folded into one transaction


class Worker:
    """The thread that owns the connection and group-commits queued calls."""

    def __init__(
        self,
        path: str,
        setup: Callable[[sqlite3.Connection], None],
        on_rollback: Callable[[], None],
    ) -> None:
        self._path = path
        self._setup = setup
        self._on_rollback = on_rollback
        self._calls: queue.SimpleQueue[tuple[Op, asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="flowmesh-sqlite", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        self._calls.put(None)
        self._thread.join(timeout=30)

    async def call(self, op: Op) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.put((op, fut))
        return await fut

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        # A queue's indexes stay in memory at 100,000s of jobs (the default 2 MB
        # cache makes every reserve and ack read index pages back from the OS).
        conn.execute("PRAGMA cache_size=-65536")
        self._setup(conn)
        return conn

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._calls.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < _MAX_GROUP:
                    try:
                        nxt = self._calls.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[tuple[Op, asyncio.Future[Any]]]
    ) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op, fut in batch:
                conn.execute("SAVEPOINT call")
                try:
                    result = op(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO call")
                    conn.execute("RELEASE call")
                    outcomes.append((fut, None, exc))
                else:
                    conn.execute("RELEASE call")
                    outcomes.append((fut, result, None))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._on_rollback()
            outcomes = [(fut, None, exc) for _, fut in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for item in outcomes:
            by_loop.setdefault(item[0].get_loop(), []).append(item)
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, result, exc in items:
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
