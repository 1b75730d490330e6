"""Fixtures for webhook tests: a real HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from automation.settings import Settings
from automation.webhooks.testing import Receiver, scratch_database


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def delivery_database(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture
def settings(service_env: dict[str, str], delivery_database: str, redis_prefix: str) -> Settings:
    """The core's test settings, on a database of our own and a broker prefix no
    worker listens to: these tests drive delivery themselves, with their own clock."""
    values = {k.lower(): v for k, v in service_env.items()}
    values["database_url"] = delivery_database
    values["celery_key_prefix"] = f"{redis_prefix}delivery-tests:"
    return Settings(**values)  # type: ignore[arg-type]
