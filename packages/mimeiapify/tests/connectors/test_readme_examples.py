"""The package README's Python examples run as written against the emulators."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(python_blocks()) == 7


@pytest.fixture
def readme_env(
    base: dict[str, Any],
    merchant: dict[str, str],
    whatsapp_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = whatsapp_server.new_number()
    monkeypatch.setenv("WHATSAPP_API_URL", whatsapp_server.url)
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", number["phone_number_id"])
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", number["access_token"])
    monkeypatch.setenv("WHATSAPP_APP_SECRET", number["app_secret"])
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", number["verify_token"])
    monkeypatch.setenv("AIRTABLE_BASE_ID", base["id"])
    monkeypatch.setenv("AIRTABLE_API_KEY", "pat_readme")
    monkeypatch.setenv("WOMPI_PUBLIC_KEY", merchant["public_key"])
    monkeypatch.setenv("WOMPI_INTEGRITY_KEY", merchant["integrity_secret"])
    monkeypatch.setenv("WOMPI_EVENTS_SECRET", merchant["events_secret"])


def test_readme_examples_run(
    readme_env: None, served: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespaces = []
    for block in python_blocks():
        ns: dict[str, Any] = {"__name__": "readme_example"}
        exec(compile(block, str(README), "exec"), ns)
        namespaces.append(ns)
    out = capsys.readouterr().out
    assert "404 TABLE_NOT_FOUND" in out
    assert "records in this page" in out
    assert "PENDING" in out or "APPROVED" in out
    app_url = served(namespaces[4]["app"])
    forged = requests.post(f"{app_url}/wompi/events", json={"event": "forged"}, timeout=5)
    assert forged.status_code == 400
    assert "sent True 573001234567" in out and "131047 More than 24 hours" in out
    assert "application/pdf 16 True" in out
    whatsapp_url = served(namespaces[6]["app"]) + "/whatsapp"
    token = os.environ["WHATSAPP_VERIFY_TOKEN"]
    handshake = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "77"}
    assert requests.get(whatsapp_url, params=handshake, timeout=5).text == "77"
    wrong = {**handshake, "hub.verify_token": "wrong"}
    assert requests.get(whatsapp_url, params=wrong, timeout=5).status_code == 403
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    forged_wa = requests.post(whatsapp_url, data=body, timeout=5,
                              headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})  # fmt: skip
    assert forged_wa.status_code == 403
    secret = os.environ["WHATSAPP_APP_SECRET"].encode()
    signed = {"X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}
    answer = requests.post(whatsapp_url, data=body, headers=signed, timeout=5)
    assert answer.json() == {"messages": 0, "statuses": 0}
