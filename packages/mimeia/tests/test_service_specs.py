"""Members register services as plain dicts; mimeia turns them into ServiceSpecs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mimeia.services import Address, ServiceSpec, ServiceSpecError, discover_services, spec_from


def _argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["demo"]
    return ["serve", "--host", me.host, "--port", str(me.port), "--peer", str(addresses["peer"])]


GOOD: dict[str, Any] = {
    "name": "demo",
    "description": "a demo",
    "default_port": 8700,
    "argv": _argv,
    "after": ["peer"],
}


def test_a_dict_becomes_a_spec() -> None:
    spec = spec_from(GOOD, "demo")
    assert spec == ServiceSpec("demo", "a demo", 8700, _argv, after=("peer",))
    addresses = {"demo": Address("127.0.0.1", 1), "peer": Address("127.0.0.1", 2)}
    assert spec.argv(addresses, "/tmp") == [
        "serve", "--host", "127.0.0.1", "--port", "1", "--peer", "127.0.0.1:2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "'name'"),
        ({"default_port": 0}, "'default_port'"),
        ({"default_port": "80"}, "'default_port'"),
        ({"argv": ["python"]}, "'argv'"),
        ({"after": "flowmesh"}, "'after'"),
        ({"env": {"A": 1}}, "'env'"),
        ({"colour": "red"}, "'colour'"),
    ],
)
def test_a_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    bad = {**GOOD, **change}
    if change.get("name", "") is None:
        del bad["name"]
    with pytest.raises(ServiceSpecError, match=field):
        spec_from(bad, "entry point 'demo'")


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(ServiceSpecError, match="expected a dict"):
        spec_from(["demo"], "entry point 'demo'")


def test_every_registered_member_service_is_a_plain_dict() -> None:
    """No member builds a ServiceSpec: they would have to import mimeia at run time."""
    from importlib.metadata import entry_points

    eps = list(entry_points(group="mimeia.services"))
    assert eps, "no member registers a service"
    for ep in eps:
        assert isinstance(ep.load(), dict), ep.value
    assert {s.name for s in discover_services()} >= {"flowmesh", "mesh", "automation"}
