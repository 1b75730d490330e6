"""API routers under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    from automation.routers import workflows

    return [workflows.router]
