"""Property-based API test: schemathesis generates requests from our OpenAPI schema
(valid and invalid ones) against a real server; no input may cause a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HEADERS = {"X-Internal-API-Key": "test-internal-key-0123456789", "X-Tenant-ID": "fuzz-tenant"}


@pytest.fixture(scope="module")
def base_url(service_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {**service_env, "ENV": "development"}
    with run_server(["python", "-m", "automation", "serve", "--host", "127.0.0.1",
                     "--port", str(port), "--no-migrate"], env=env, timeout=60):  # fmt: skip
        yield f"http://127.0.0.1:{port}"


def test_no_input_makes_the_server_fail(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=HEADERS, timeout=15)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            exercise()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= 15
    assert not failures, "\n\n".join(failures)
