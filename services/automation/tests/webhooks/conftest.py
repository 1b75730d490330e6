"""Fixtures for webhook tests: a real HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# our own database and broker prefix (see automation.webhooks.testing)
from automation.webhooks.testing import Receiver, delivery_database, settings  # noqa: F401


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()
