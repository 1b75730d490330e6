"""API routers under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    from automation.routers import events, executions, rules, wompi, workflows

    return [
        executions.router,
        workflows.router,
        executions.hooks,
        rules.router,
        events.router,
        wompi.router,
    ]
