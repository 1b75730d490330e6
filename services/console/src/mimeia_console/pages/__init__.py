"""Every page of the console; each module serves one section."""

from __future__ import annotations

from starlette.routing import BaseRoute

from mimeia_console.pages import (
    charts,
    delivery,
    first_steps,
    flowmesh,
    home,
    rules,
    sinks,
    slack,
    workflows,
)


def all_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for module in (home, first_steps, workflows, rules, delivery, flowmesh, sinks, slack, charts):
        routes.extend(module.ROUTES)
    return routes
