"""Retries stay in the trace of the request that created the work. A webhook whose
receiver answers 500 first, and an email whose SMTP server answers 451 first, are
tried again by the sweeps (``automation.webhooks.sweep`` / ``notifications.sweep``,
the tasks beat sends) in a real prefork worker; both attempts of each sit in the
request's trace, exported over OTLP/HTTP to a receiver decoding the protobuf.

Deterministic by construction: a database of our own (no other worker's sweep can
claim the rows), retries due 1 s after a failure with no jitter, none riding a broker
countdown (``*_MAX_COUNTDOWN_SECONDS=0``: only a sweep can send them), and the test
sends the sweep task itself, as beat does, until the retry has gone out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from automation.celery_app import create_celery, send
from automation.settings import Settings
from automation.webhooks.testing import Receiver, Reply, scratch_database
from mimeia.testing import ServerProcess, free_port, run_server
from mimeia_telemetry.testing import OtlpReceiver, Span


class RefuseFirstSmtp:
    """An SMTP server's DATA handler: 451 (try again later) to the first message."""

    def __init__(self) -> None:
        self.calls = 0
        self.accepted: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.calls += 1
        if self.calls == 1:
            return "451 4.3.0 Try again later"
        self.accepted.append(envelope)
        return "250 OK"


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[RefuseFirstSmtp, int]]:
    handler, port = RefuseFirstSmtp(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


INTERNAL_KEY = f"trace-retry-{uuid.uuid4().hex}"


@pytest.fixture
def auth() -> dict[str, str]:
    return {"X-Internal-API-Key": INTERNAL_KEY, "X-Tenant-ID": f"t-{uuid.uuid4().hex[:10]}"}


@pytest.fixture(scope="module")
def retry_env(
    postgres_url: str, redis_url: str, redis_prefix: str, otlp: OtlpReceiver,
    smtp: tuple[RefuseFirstSmtp, int], tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:  # fmt: skip
    with scratch_database(postgres_url) as database_url:
        yield {
            "ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_KEY_PREFIX": f"{redis_prefix}trace-retry-{uuid.uuid4().hex[:6]}:",
            "INTERNAL_API_KEY": INTERNAL_KEY,
            "JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "STATE_DIR": str(tmp_path_factory.mktemp("trace-retry-state")),
            "RATE_LIMIT": "100000/minute",
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8",
            "WEBHOOK_RETRY_SCHEDULE": "0,1",
            "WEBHOOK_RETRY_JITTER": "0",
            "WEBHOOK_MAX_COUNTDOWN_SECONDS": "0",
            "NOTIFICATION_RETRY_SCHEDULE": "0,1",
            "NOTIFICATION_RETRY_JITTER": "0",
            "NOTIFICATION_MAX_COUNTDOWN_SECONDS": "0",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp[1]),
            "SMTP_USE_TLS": "false",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }


@pytest.fixture(scope="module")
def processes(retry_env: dict[str, str]) -> Iterator[tuple[str, ServerProcess]]:
    """The API and a prefork worker without beat: the test is the beat."""
    port = free_port()
    api_argv = ["python", "-m", "automation", "serve", "--host", "127.0.0.1",
                "--port", str(port), "--no-migrate"]  # fmt: skip
    worker_argv = ["python", "-m", "automation", "worker", "-P", "prefork", "-c", "1",
                   "-n", f"trace-retry-{uuid.uuid4().hex[:8]}@%h", "-l", "INFO"]  # fmt: skip
    servers = [
        run_server(api_argv, env=retry_env, timeout=60),
        run_server(worker_argv, ready_text=" ready.", env=retry_env, timeout=90),
    ]
    with ExitStack() as stack:
        # both start at once (each takes seconds to import); each is stopped on the
        # way out even when the other failed to start
        with ThreadPoolExecutor(len(servers)) as pool:
            starting = [pool.submit(server.__enter__) for server in servers]
        started = []
        for server, future in zip(servers, starting, strict=True):
            if future.exception() is None:
                stack.push(server.__exit__)
                started.append(future.result())
        for future in starting:
            future.result()  # raises the first start failure, after the cleanups are set
        yield f"http://127.0.0.1:{port}", started[1]


@pytest.fixture(scope="module")
def beat(retry_env: dict[str, str]) -> Callable[[str], None]:
    """Send a sweep task the way beat does (no trace of its own in this process)."""
    values = {k.lower(): v for k, v in retry_env.items() if not k.startswith("OTEL_")}
    app = create_celery(Settings.model_validate(values))
    return lambda kind: send(app, f"automation.{kind}.sweep", queue=kind[:-1])


def _until(check: Callable[[], bool], timeout: float, why: Callable[[], object],
           every: Callable[[], None] | None = None, period: float = 0.5) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    last = 0.0
    while time.monotonic() < deadline:
        if check():
            return
        if every is not None and time.monotonic() - last >= period:
            every()
            last = time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout}s: {why()}")


def _check_swept_retry(
    otlp: OtlpReceiver, trace_id: str, caller: str, attempt_name: str, sweep_name: str,
    server_name: str,
) -> tuple[list[Span], dict[str, Span]]:  # fmt: skip
    """Both attempts in the request's trace: the first under the task the request
    queued, the second (the sweep's) under the request's span, linked to the sweep."""
    spans = otlp.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    server = next(s for s in spans if s.name == server_name)
    assert server.parent_id == caller
    attempts = sorted((s for s in spans if s.name == attempt_name),
                      key=lambda s: int(str(s.attributes["attempt"])))  # fmt: skip
    assert [a.attributes["attempt"] for a in attempts] == [1, 2]
    first, second = attempts
    assert by_id[first.parent_id].name.startswith("run automation.")
    assert second.parent_id == server.span_id  # resumed from the row's traceparent
    (sweep,) = [s for s in otlp.spans if s.name == sweep_name and s.trace_id != trace_id
                and (s.trace_id, s.span_id) in second.links]  # fmt: skip
    assert sweep.kind == 5 and sweep.service == "automation-worker"  # CONSUMER
    # no orphans: every span of the trace reaches back to the caller
    for s in spans:
        hop = s
        while hop.parent_id != caller:
            hop = by_id[hop.parent_id]
    return attempts, by_id


def test_a_webhook_retried_by_the_sweep_stays_in_the_request_trace(
    processes: tuple[str, ServerProcess], otlp: OtlpReceiver, beat: Callable[[str], None],
    auth: dict[str, str],
) -> None:  # fmt: skip
    base, worker = processes
    receiver = Receiver()
    receiver.replies.append(Reply(500))
    receiver.start()
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    try:
        with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
            created = http.post("/api/v1/webhooks/endpoints",
                                json={"url": receiver.url(), "events": ["order.*"]})  # fmt: skip
            assert created.status_code == 201, created.text
            sent = http.post("/api/v1/webhooks/deliver",
                             headers={"traceparent": f"00-{trace_id}-{caller}-01"},
                             json={"event_type": "order.paid", "payload": {"id": 7}})  # fmt: skip
            assert sent.status_code == 202, sent.text
            message = f"/api/v1/webhooks/messages/{sent.json()['message_id']}"

            def delivery() -> dict[str, Any]:
                return dict(http.get(message).json()["deliveries"][0])

            # the first attempt failed and left the retry to the database
            _until(lambda: delivery()["attempts"] == 1, 20, lambda: worker.log[-3000:])
            assert delivery()["status"] == "pending" and len(receiver.received) == 1
            _until(lambda: len(receiver.received) >= 2, 15, lambda: worker.log[-3000:],
                   every=lambda: beat("webhooks"))  # fmt: skip
            _until(lambda: delivery()["status"] == "succeeded", 10, delivery)
    finally:
        receiver.stop()

    _until(lambda: sum(s.name == "POST" for s in otlp.trace(trace_id)) >= 2
           and sum(s.name == "webhook.attempt" for s in otlp.trace(trace_id)) >= 2,
           15, lambda: (otlp.spans, worker.log[-3000:]))  # fmt: skip
    attempts, by_id = _check_swept_retry(
        otlp, trace_id, caller, "webhook.attempt", "run automation.webhooks.sweep",
        "POST /api/v1/webhooks/deliver",
    )  # fmt: skip
    assert by_id[attempts[0].parent_id].name == "run automation.webhooks.deliver_message"
    assert [a.attributes["http.response.status_code"] for a in attempts] == [500, 200]
    # each POST is a client span under its attempt, and the receiver saw that span
    # as the parent, in the request's trace
    for got, attempt in zip(receiver.received, attempts, strict=True):
        _, got_trace, got_parent, _ = got.headers["traceparent"].split("-")
        assert got_trace == trace_id
        client = by_id[got_parent]
        assert client.name == "POST" and client.kind == 3 and client.parent_id == attempt.span_id


def test_an_email_retried_by_the_sweep_stays_in_the_request_trace(
    processes: tuple[str, ServerProcess], otlp: OtlpReceiver, beat: Callable[[str], None],
    auth: dict[str, str], smtp: tuple[RefuseFirstSmtp, int],
) -> None:  # fmt: skip
    base, worker = processes
    handler, _ = smtp
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        mail = http.post("/api/v1/notifications/email",
                         headers={"traceparent": f"00-{trace_id}-{caller}-01"},
                         json={"to": ["ops@example.com"], "subject": "Paid",
                               "body": "Order 7 paid"})  # fmt: skip
        assert mail.status_code == 202, mail.text
        path = f"/api/v1/notifications/{mail.json()['notifications'][0]['id']}"

        def row() -> dict[str, Any]:
            return dict(http.get(path).json())

        _until(lambda: row()["status"] == "retrying", 20, lambda: (row(), worker.log[-3000:]))
        assert "451" in row()["last_error"] and handler.calls == 1
        _until(lambda: row()["status"] == "sent", 15, lambda: (row(), worker.log[-3000:]),
               every=lambda: beat("notifications"))  # fmt: skip
    assert len(handler.accepted) == 1

    _until(lambda: sum(s.name == "notification.attempt" for s in otlp.trace(trace_id)) >= 2,
           15, lambda: (otlp.spans, worker.log[-3000:]))  # fmt: skip
    attempts, by_id = _check_swept_retry(
        otlp, trace_id, caller, "notification.attempt", "run automation.notifications.sweep",
        "POST /api/v1/notifications/email",
    )  # fmt: skip
    assert by_id[attempts[0].parent_id].name == "run automation.notifications.send"
    assert all(a.attributes["notification.channel"] == "email" for a in attempts)
    # the recipient is personal data: never in a span
    assert not any("ops@example.com" in str(v) for a in attempts for v in a.attributes.values())


def test_migration_0410_adds_and_drops_the_traceparent_columns(sqlite_url: str) -> None:
    from sqlalchemy import create_engine, inspect

    from automation import migrate

    def columns() -> dict[str, set[str]]:
        engine = create_engine(sqlite_url)
        try:
            found = inspect(engine)
            return {t: {c["name"] for c in found.get_columns(t)}
                    for t in ("webhook_messages", "notifications")}  # fmt: skip
        finally:
            engine.dispose()

    migrate.upgrade(sqlite_url)
    assert all("traceparent" in names for names in columns().values())
    migrate.downgrade(sqlite_url, "0400")
    assert not any("traceparent" in names for names in columns().values())
    migrate.upgrade(sqlite_url)
    assert all("traceparent" in names for names in columns().values())
