"""API routers under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    # delivery part of the service (webhooks, notifications)
    from automation.integrations.routes import router as integrations_router
    from automation.notifications.routes import router as notifications_router
    from automation.routers import events, executions, rules, wompi, workflows
    from automation.webhooks.routes import router as webhooks_router
    from automation.whatsapp.routes import router as whatsapp_router

    return [
        executions.summary,
        executions.router,
        workflows.router,
        executions.hooks,
        rules.router,
        events.router,
        wompi.router,
        integrations_router,
        whatsapp_router,
        webhooks_router,
        notifications_router,
    ]
