"""``redacted_path``: secret path parameters become ``***`` once a route has matched,
rebuilt from the route's template (with the prefix an included router was mounted
under); other parameters are kept as sent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mimeia_telemetry.asgi import redacted_path


@dataclass
class Route:
    """What Starlette leaves in ``scope["route"]``: the template and its regex."""

    path: str
    path_regex: re.Pattern[str]


HOOK = Route("/hooks/workflows/{workflow_id}/{token}",
             re.compile(r"^/hooks/workflows/(?P<workflow_id>[^/]+)/(?P<token>[^/]+)$"))  # fmt: skip


def test_the_token_is_hidden_and_the_rest_kept() -> None:
    scope = {"path": "/api/v1/hooks/workflows/w-1/s3cr3t-tok", "route": HOOK,
             "path_params": {"workflow_id": "w-1", "token": "s3cr3t-tok"}}  # fmt: skip
    assert redacted_path(scope) == "/api/v1/hooks/workflows/w-1/***"
    assert redacted_path(scope, secret_params=()) == scope["path"]
    assert redacted_path(scope, secret_params={"workflow_id", "token"}) == (
        "/api/v1/hooks/workflows/***/***"
    )


def test_without_a_route_or_a_secret_the_path_is_as_sent() -> None:
    assert redacted_path({"path": "/api/v1/hooks/workflows/w/t"}) == "/api/v1/hooks/workflows/w/t"
    things = Route("/things/{id:int}/{rest:path}",
                   re.compile(r"^/things/(?P<id>[0-9]+)/(?P<rest>.*)$"))  # fmt: skip
    scope = {"path": "/things/7/a/b", "route": things, "path_params": {"id": 7, "rest": "a/b"}}
    assert redacted_path(scope) == "/things/7/a/b"
    scope["path_params"] = {"id": 7, "secret": "a/b"}
    scope["route"] = Route("/things/{id:int}/{secret:path}", things.path_regex)
    assert redacted_path(scope) == "/things/7/***"
