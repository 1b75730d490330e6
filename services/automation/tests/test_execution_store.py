"""The engine's persistence (automation.workflows.store) on PostgreSQL and SQLite.

PostgreSQL takes single-statement paths (claim and close as data-modifying
CTEs) and other databases a statement each; these tests hold both to the same
results, and check the runner's retry when a pooled connection was closed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select, text

from automation import migrate
from automation.db import Database, utcnow
from automation.models import AutomationRule, Event, StepRun, Tenant, Workflow, WorkflowExecution
from automation.rules.subscriptions import listener_patterns
from automation.settings import Settings
from automation.workflows import store
from automation.workflows.engine import ExecutionRunner, create_execution

pytestmark = pytest.mark.integration

STEPS = [
    {"id": "a", "type": "data_transform", "config": {"output": "{{ order.id }}"}},
    {"id": "b", "type": "data_transform", "config": {"output": "{{ steps.a.output }}-b"}},
]


def _async_url(url: str) -> str:
    return Settings(env="test", database_url=url).effective_database_url  # type: ignore[call-arg]


def _outputs_query(execution_id: str) -> Any:
    return select(StepRun).where(StepRun.execution_id == execution_id).order_by(StepRun.position)


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, migrated_postgres: str, tmp_path: Any) -> str:
    if request.param == "postgresql":
        return _async_url(migrated_postgres)
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def _tenant_with_listeners(db: Database) -> str:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    other = f"t-{uuid.uuid4().hex[:10]}"
    async with db.session() as session:
        session.add_all([Tenant(id=tenant), Tenant(id=other)])
        await session.flush()

        def rule(owner: str, trigger: dict[str, Any], enabled: bool = True) -> AutomationRule:
            return AutomationRule(tenant_id=owner, name="r", trigger=trigger, enabled=enabled)

        session.add_all([
            rule(tenant, {"type": "event", "event_type": "workflow.*"}),
            rule(tenant, {"type": "event", "event_type": "order.paid"}, enabled=False),
            rule(tenant, {"type": "schedule", "cron": "* * * * *"}),
            rule(other, {"type": "event", "event_type": "elsewhere.*"}),
            Workflow(tenant_id=tenant, name="w", trigger_type="event", event_type="user.*"),
            Workflow(tenant_id=tenant, name="w", trigger_type="event", event_type="off",
                     enabled=False),
            Workflow(tenant_id=tenant, name="w", steps=STEPS),
        ])  # fmt: skip
        await session.commit()
    return tenant


async def _new_execution(db: Database, tenant: str) -> str:
    async with db.session() as session:
        workflow = (
            await session.execute(
                select(Workflow).where(
                    Workflow.tenant_id == tenant,
                    Workflow.name == "w",
                    Workflow.trigger_type == "manual",
                )
            )
        ).scalar_one()
        execution = await create_execution(session, workflow, input_data={"order": {"id": 7}})
        await session.commit()
        return execution.id


def _runner(db: Database, sent: list[Any]) -> ExecutionRunner:
    settings = Settings(env="test", database_url=db.url)  # type: ignore[call-arg]

    def send(*args: Any) -> None:
        sent.append(args)

    return ExecutionRunner(db, settings, send, owner=f"test:{uuid.uuid4().hex[:6]}")


async def test_claim_reads_execution_steps_and_listeners_alike(database: Database) -> None:
    tenant = await _tenant_with_listeners(database)
    execution_id = await _new_execution(database, tenant)
    now = utcnow()
    async with database.autocommit_engine.connect() as conn:
        claimed = await store.claim(conn, execution_id, "me", now, now + timedelta(seconds=30), now)
        again = await store.claim(conn, execution_id, "you", now, now + timedelta(seconds=30), now)
    assert claimed is not None and again is None  # the lease is held
    assert claimed.execution.input == {"order": {"id": 7}}
    assert [s.step_id for s in claimed.steps] == ["a", "b"]
    assert all(s.status == "pending" and s.attempts == 0 for s in claimed.steps)
    async with database.session() as session:
        expected = await listener_patterns(session, tenant)
    assert sorted(map(str, claimed.listener_patterns)) == sorted(map(str, expected))
    assert sorted(map(str, expected)) == ["user.*", "workflow.*"]


async def test_close_writes_steps_and_event_only_while_holding_the_lease(
    database: Database,
) -> None:
    tenant = await _tenant_with_listeners(database)
    execution_id = await _new_execution(database, tenant)
    now = utcnow()
    async with database.autocommit_engine.connect() as conn:
        claimed = await store.claim(conn, execution_id, "me", now, now + timedelta(seconds=30), now)
        assert claimed is not None
        step = claimed.steps[0]
        step.status, step.output, step.attempts, step.finished_at = "succeeded", {"x": [1]}, 1, now
        event_id = str(uuid.uuid4())
        event = {"id": event_id, "tenant_id": tenant, "type": "workflow.completed",
                 "source": "workflow", "data": {"execution_id": execution_id},
                 "status": "processed", "request_id": None, "created_at": now,
                 "processed_at": now}  # fmt: skip
        # Someone else's lease: nothing is written.
        assert not await store.close(
            conn, execution_id, "intruder", status="succeeded", now=now, steps=[step], event=event
        )
        assert await store.close(
            conn, execution_id, "me", status="succeeded", now=now, finished_at=now,
            steps=[step], event=event,
        )  # fmt: skip
    async with database.session() as session:
        execution = await session.get(WorkflowExecution, execution_id)
        rows = (await session.execute(_outputs_query(execution_id))).scalars().all()
        recorded = await session.get(Event, event_id)
    assert execution is not None and execution.status == "succeeded"
    assert execution.lease_owner is None and execution.finished_at is not None
    assert [(r.status, r.output, r.attempts) for r in rows] == [
        ("succeeded", {"x": [1]}, 1),
        ("pending", None, 0),
    ]
    assert rows[0].finished_at is not None
    assert abs((rows[0].finished_at - now).total_seconds()) < 0.001
    assert recorded is not None and recorded.data == {"execution_id": execution_id}


async def test_runner_runs_and_records_completion(database: Database) -> None:
    tenant = await _tenant_with_listeners(database)
    execution_id = await _new_execution(database, tenant)
    result = await _runner(database, []).run(execution_id)
    assert (result.claimed, result.status) == (True, "succeeded")
    # "workflow.*" listens, so the completion event is left for evaluation.
    assert result.event_id is not None
    async with database.session() as session:
        rows = (await session.execute(_outputs_query(execution_id))).scalars().all()
        event = await session.get(Event, result.event_id)
    assert [r.output for r in rows] == [7, "7-b"]
    assert event is not None and event.status == "received"


async def _server_drops_pooled_connection(database: Database) -> None:
    """What a server restart or an idle timeout does to the autocommit pool's
    (only) connection: closes it under the pool's feet."""
    async with database.autocommit_engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with database.session() as session:
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_claim_is_retried_when_the_pooled_connection_was_closed(
    migrated_postgres: str,
) -> None:
    database = Database(_async_url(migrated_postgres))
    try:
        tenant = await _tenant_with_listeners(database)
        first = await _new_execution(database, tenant)
        assert (await _runner(database, []).run(first)).status == "succeeded"
        # The pool does not ping, so the next claim meets the dead connection.
        await _server_drops_pooled_connection(database)
        second = await _new_execution(database, tenant)
        result = await _runner(database, []).run(second)
        assert (result.claimed, result.status) == (True, "succeeded")
    finally:
        await database.dispose()


async def test_execute_once_is_retried_when_the_pooled_connection_was_closed(
    migrated_postgres: str,
) -> None:
    # The path every submitted event takes (one INSERT on the autocommit pool).
    database = Database(_async_url(migrated_postgres))
    try:
        tenant = await _tenant_with_listeners(database)
        events = cast(Table, Event.__table__)

        async def add_event() -> str:
            event_id = str(uuid.uuid4())
            row = {"id": event_id, "tenant_id": tenant, "type": "x.y", "source": "api",
                   "data": {}, "status": "received", "request_id": None,
                   "created_at": utcnow(), "processed_at": None}  # fmt: skip
            await database.execute_once(insert(events), row)
            return event_id

        await add_event()
        await _server_drops_pooled_connection(database)
        second = await add_event()
        async with database.session() as session:
            assert await session.get(Event, second) is not None
    finally:
        await database.dispose()
