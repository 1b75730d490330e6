"""Template syntax in an event's data is text: the notification action's inline
body was rendered by the engine, and is not rendered a second time (it was, so
``{{ ... }}`` sent in an event ran as a template)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from automation import templating
from automation.celery_app import celery_app, configure_celery
from automation.notifications.actions import NOTIFICATION_ACTION
from automation.notifications.models import Notification
from automation.registry import ActionContext
from automation.runtime import Runtime
from automation.settings import Settings


async def test_event_data_is_not_rendered_twice(
    client: httpx.AsyncClient, auth: dict[str, str], tenant: str, runtime: Runtime,
    settings: Settings,
) -> None:  # fmt: skip
    # a first call registers the tenant
    assert (await client.get("/api/v1/notifications/templates", headers=auth)).status_code == 200
    configure_celery(celery_app, settings)
    scope: dict[str, Any] = {"user": {"name": "{{ 7 * 6 }}{% for i in range(3) %}x{% endfor %}"}}
    action = {"notification_type": "email", "to": "ana@example.com",
              "subject": "Hi {{ user.name }}", "body": "Dear {{ user.name }}"}  # fmt: skip
    config = templating.render(action, scope)  # what the engine hands the handler
    ctx = ActionContext(tenant_id=tenant, settings=settings, database=runtime.database,
                        source="rule", run_id="run-1", step_id="action-0", scope=scope)  # fmt: skip
    out = await NOTIFICATION_ACTION.run(ctx, config)
    async with runtime.database.session() as session:
        rows = (await session.scalars(
            select(Notification).where(Notification.id.in_(out["notification_ids"]))
        )).all()  # fmt: skip
    assert [(r.subject, r.body) for r in rows] == [
        ("Hi {{ 7 * 6 }}{% for i in range(3) %}x{% endfor %}",
         "Dear {{ 7 * 6 }}{% for i in range(3) %}x{% endfor %}"),
    ]  # fmt: skip
