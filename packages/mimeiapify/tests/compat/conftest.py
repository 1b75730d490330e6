"""Fixtures of the 1.4 compatibility suite.

The suite imports its call catalogue (``upstream_calls``) by name, the way the
hand-run side-by-side script does. Redis: 1.4 spreads the aliases over six
databases; here each run points them at six databases drawn at random and a
tenant unique to the run, and deletes every key it made, so concurrent runs on
this machine never meet.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests

sys.path.insert(0, str(Path(__file__).parent))

from upstream_calls import Airtable14, Wompi14

ALIASES_14 = ("default", "user", "handlers", "symphony_shared_state", "expiry", "pubsub")


@pytest.fixture
def airtable14(base: dict[str, Any], airtable_env: Any) -> Airtable14:
    return Airtable14(
        api_url=airtable_env.api_url, base_id=base["id"], table_id=base["tables"][0]["id"]
    )


@pytest.fixture
def wompi14(wompi_server: Any, monkeypatch: pytest.MonkeyPatch) -> Wompi14:
    """A merchant with one settled transaction and the signed event Wompi sent for it."""
    from mimeiapify import Wompi

    monkeypatch.setenv("WOMPI_API_URL", wompi_server.api_url)
    monkeypatch.setenv("WOMPI_CHECKOUT_URL", f"{wompi_server.url}/p/")
    # events go to a closed port: the emulator still records each signed event
    keys = wompi_server.new_merchant(events_url="http://127.0.0.1:9/events")
    reference = f"compat-{uuid.uuid4().hex[:8]}"
    with Wompi(keys["public_key"], keys["private_key"], keys["integrity_secret"]) as wompi:
        card = wompi.tokenize_card("4242424242424242", "123", "08", "29", "Ana")
        payment = {"type": "CARD", "token": card, "installments": 1}
        tx = wompi.create_transaction(5000, "ana@example.com", payment, reference=reference)
    deadline = time.monotonic() + 10
    while True:
        events = requests.get(f"{wompi_server.url}/_emulator/events", timeout=10).json()["data"]
        mine = [d["event"] for d in events if d["event"]["data"]["transaction"]["id"] == tx["id"]]
        if mine:
            break
        assert time.monotonic() < deadline, "the emulator sent no event for the transaction"
        time.sleep(0.05)
    return Wompi14(
        api_url=wompi_server.api_url,
        checkout_url=f"{wompi_server.url}/p/",
        public_key=keys["public_key"],
        private_key=keys["private_key"],
        integrity_key=keys["integrity_secret"],
        events_secret=keys["events_secret"],
        transaction_id=tx["id"],
        reference=reference,
        signed_event=mine[-1],
    )


def _with_db(url: str, db: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


@pytest.fixture
def redis14(redis_url: str) -> Iterator[dict[str, Any]]:
    """1.4-style ``redis_url`` mapping (six databases drawn for this run), a tenant and a
    service name unique to the run; every key they made is deleted afterwards."""
    dbs = dict(zip(ALIASES_14, random.sample(range(1, 16), 6), strict=True))
    run = uuid.uuid4().hex[:10]
    env = {
        "urls": {alias: _with_db(redis_url, db) for alias, db in dbs.items()},
        "dbs": dbs,
        "tenant": f"compat{run}",
        "service": f"svc{run}",
    }
    yield env
    for db in dbs.values():
        client = redis.Redis.from_url(_with_db(redis_url, db), socket_timeout=5)
        try:
            doomed = [
                *client.scan_iter(match=f"*{run}*", count=500),
            ]
            if doomed:
                client.unlink(*doomed)
        finally:
            client.close()
