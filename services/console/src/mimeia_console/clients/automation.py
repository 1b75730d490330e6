"""The automation service's REST API, called with the signed-in user's credentials."""

from __future__ import annotations

from typing import Any

import httpx

from mimeia_console.auth import Credentials
from mimeia_console.clients.http import call

API = "/api/v1"
PAGE = 25


class Automation:
    """Thin calls over one shared connection pool; each carries the user's headers."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, creds: Credentials) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = creds.automation_headers()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await call(
            self._http, "automation", method, f"{self._base}{path}", headers=self._headers, **kwargs
        )

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None and v != ""}
        return await self._call("GET", API + path, params=clean)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self._call("POST", API + path, json=body if body is not None else {})

    async def put(self, path: str, body: Any) -> Any:
        return await self._call("PUT", API + path, json=body)

    # -- reads the pages share -----------------------------------------------

    async def workflows(self, limit: int = PAGE, offset: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = await self.get("/workflows", limit=limit, offset=offset)
        return result

    async def executions(
        self, workflow_id: str, status: str | None = None, limit: int = PAGE, offset: int = 0
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.get(
            f"/workflows/{workflow_id}/executions", status=status, limit=limit, offset=offset
        )
        return result

    async def execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.get(f"/workflows/executions/{execution_id}")
        return result

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await call(
            self._http, "automation", "GET", f"{self._base}/health/detailed"
        )
        return result
