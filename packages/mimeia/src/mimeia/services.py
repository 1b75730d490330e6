"""How a workspace member tells `mimeia up` and `mimeia doctor` about its server.

A member that has a server adds an entry point in its own pyproject::

    [project.entry-points."mimeia.services"]
    flowmesh = "flowmesh.server.mimeia_service:SERVICE"

pointing at a plain dict with the fields of :class:`ServiceSpec`::

    SERVICE = {"name": "flowmesh", "description": "...", "default_port": 50051,
               "argv": build_argv, "scheme": "grpc", "after": ["mesh"]}

so the member never imports `mimeia` (our dev command is no runtime dependency
of a library). ``build_argv(addresses, state_dir)`` gets each service's
:class:`Address` (``.host``, ``.port``, ``str()`` gives ``host:port``). A
:class:`ServiceSpec` instance is accepted too. The `mimeia` package never
imports the members directly, so a member can land (or be removed) without
touching it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
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


class ServiceSpecError(ValueError):
    """A registered service description is malformed; the message names the field."""


_REQUIRED = ("name", "description", "default_port", "argv")


def spec_from(value: object, source: str) -> ServiceSpec:
    """A :class:`ServiceSpec` from what an entry point points at (a dict or a spec)."""
    if isinstance(value, ServiceSpec):
        return value
    if not isinstance(value, Mapping):
        raise ServiceSpecError(f"{source}: expected a dict of service fields, "
                               f"got {type(value).__name__}")  # fmt: skip
    known = {f.name for f in fields(ServiceSpec)}
    for key in value:
        if key not in known:
            raise ServiceSpecError(f"{source}: unknown field {key!r} (known: {sorted(known)})")
    for key in _REQUIRED:
        if key not in value:
            raise ServiceSpecError(f"{source}: field {key!r} is required")
    for key in ("name", "description", "scheme", "ready_text"):
        if key in value and not isinstance(value[key], str):
            raise ServiceSpecError(f"{source}: field {key!r} must be a string")
    port = value["default_port"]
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ServiceSpecError(f"{source}: field 'default_port' must be a port number")
    if not callable(value["argv"]):
        raise ServiceSpecError(f"{source}: field 'argv' must be callable(addresses, state_dir)")
    after = value.get("after", ())
    if isinstance(after, str) or not all(isinstance(a, str) for a in after):
        raise ServiceSpecError(f"{source}: field 'after' must be a list of service names")
    env = value.get("env", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ServiceSpecError(f"{source}: field 'env' must map strings to strings")
    return ServiceSpec(**{**value, "after": tuple(after), "env": dict(env)})


def discover_services() -> list[ServiceSpec]:
    """Every service registered by an installed member, dependencies first."""
    specs: dict[str, ServiceSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = spec_from(ep.load(), f"entry point {ep.name!r} ({ep.value})")
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
