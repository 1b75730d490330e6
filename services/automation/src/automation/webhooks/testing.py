"""A real HTTP receiver on loopback for webhook tests and local experiments.

It records every request and answers with queued replies (200 when none is
queued), so a test can script a receiver that fails, redirects or stalls.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from automation.settings import Settings


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class Receiver:
    """Answers with queued replies (200 when none is queued) and keeps what arrived."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = receiver.replies.pop(0) if receiver.replies else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database next to ``server_url``'s, dropped afterwards.

    Delivery tests use their own database so that no other worker sweeping the
    shared test database attempts their deliveries before they do.
    """
    import asyncpg

    from automation import migrate

    parts = urlsplit(server_url)
    admin = parts._replace(path="/postgres").geturl()
    name = f"delivery_test_{uuid.uuid4().hex[:12]}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        url = parts._replace(path=f"/{name}").geturl()
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- pytest fixtures for delivery tests (imported by their conftest modules) ---------


@pytest.fixture(scope="session")
def delivery_database(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture
def settings(service_env: dict[str, str], delivery_database: str, redis_prefix: str) -> Settings:
    """The core's test settings on a database of our own and a broker prefix no
    worker listens to: these tests drive delivery themselves, with their own clock."""
    values = {k.lower(): v for k, v in service_env.items()}
    values["database_url"] = delivery_database
    values["celery_key_prefix"] = f"{redis_prefix}delivery-tests:"
    return Settings.model_validate(values)
