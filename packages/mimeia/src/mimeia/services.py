"""How a workspace member tells `mimeia up` and `mimeia doctor` about its server.

A member that has a server adds an entry point in its own pyproject::

    [project.entry-points."mimeia.services"]
    flowmesh = "flowmesh.server.mimeia_service:SERVICE"

pointing at a :class:`ServiceSpec`. The `mimeia` package never imports the
members directly, so a member can land (or be removed) without touching it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "mimeia.services"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


# Given the addresses of every service (by name) and the state directory,
# return the argv that starts this service in the foreground.
ArgvBuilder = Callable[[Mapping[str, Address], str], list[str]]


@dataclass(frozen=True)
class ServiceSpec:
    """One server of the platform as `mimeia up` starts it.

    ``argv`` builds the command line; it gets every service's address so a
    service can be pointed at the ones it depends on (listed in ``after``).
    The process must print a line containing ``ready_text`` once it accepts
    connections, and exit cleanly on SIGTERM.
    """

    name: str
    description: str
    default_port: int
    argv: ArgvBuilder
    scheme: str = "http"
    after: tuple[str, ...] = ()
    ready_text: str = "listening on"
    env: Mapping[str, str] = field(default_factory=dict)

    def port_from_env(self) -> int:
        """``MIMEIA_<NAME>_PORT`` overrides the default port."""
        key = f"MIMEIA_{self.name.upper().replace('-', '_')}_PORT"
        return int(os.environ.get(key, self.default_port))


def discover_services() -> list[ServiceSpec]:
    """Every service registered by an installed member, dependencies first."""
    specs: dict[str, ServiceSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, ServiceSpec):
            raise TypeError(f"entry point {ep.name!r} does not point at a ServiceSpec")
        specs[spec.name] = spec
    return order_by_dependencies(list(specs.values()))


def order_by_dependencies(specs: list[ServiceSpec]) -> list[ServiceSpec]:
    by_name = {s.name: s for s in specs}
    ordered: list[ServiceSpec] = []
    visiting: set[str] = set()

    def visit(spec: ServiceSpec) -> None:
        if spec in ordered:
            return
        if spec.name in visiting:
            raise ValueError(f"services depend on each other in a cycle through {spec.name!r}")
        visiting.add(spec.name)
        for dep in spec.after:
            if dep in by_name:
                visit(by_name[dep])
        visiting.discard(spec.name)
        ordered.append(spec)

    for spec in sorted(specs, key=lambda s: s.name):
        visit(spec)
    return ordered
