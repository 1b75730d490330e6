"""The package README's Python examples run as written against the emulators."""

from __future__ import annotations

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
    assert len(python_blocks()) == 5


@pytest.fixture
def readme_env(
    base: dict[str, Any], merchant: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
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
    app_url = served(namespaces[-1]["app"])
    forged = requests.post(f"{app_url}/wompi/events", json={"event": "forged"}, timeout=5)
    assert forged.status_code == 400
