"""An emulated Slack workspace read from Slack-shaped JSON files.

Layout of the data directory::

    conversations.list.json          the conversations.list answer
    users.list.json                  the users.list answer
    history/<channel>.json           conversations.history (newest first)
    replies/<channel>.json           {thread_ts: conversations.replies answer}
    files/<file id>                  file bytes (served for url_private paths)

The Web API methods behave as Slack documents them: ``oldest``/``latest``
bounds (exclusive unless ``inclusive``), ``limit`` and ``cursor`` paging with
``response_metadata.next_cursor``, ``{"ok": false, "error": ...}`` on errors.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["SlackWorkspace"]


def _ts(value: str) -> Decimal:
    return Decimal(value)


def _bound(params: dict[str, str], name: str, default: str) -> Decimal:
    try:
        return _ts(params.get(name) or default)
    except InvalidOperation:
        raise SlackMethodError("invalid_ts_" + name) from None


class SlackMethodError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackWorkspace:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.channels: dict[str, Any] = json.loads(
            (data_dir / "conversations.list.json").read_text()
        )
        self.users: dict[str, Any] = json.loads((data_dir / "users.list.json").read_text())
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for path in sorted((data_dir / "history").glob("*.json")):
            self.history[path.stem] = json.loads(path.read_text())["messages"]
        for path in sorted((data_dir / "replies").glob("*.json")):
            threads = json.loads(path.read_text())
            self.replies[path.stem] = {ts: answer["messages"] for ts, answer in threads.items()}

    def member_channel_ids(self) -> list[str]:
        return [c["id"] for c in self.channels["channels"] if c.get("is_member")]

    def call(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        """Answer a Web API method as Slack would (``ok: false`` on errors)."""
        try:
            if method == "conversations.list":
                return self._page(self.channels["channels"], "channels", params)
            if method == "users.list":
                return self._page(self.users["members"], "members", params)
            if method == "conversations.history":
                return self._history(params)
            if method == "conversations.replies":
                return self._replies(params)
            if method == "auth.test":
                return {"ok": True, "team_id": self.users["members"][0].get("team_id")}
        except SlackMethodError as exc:
            return {"ok": False, "error": exc.error}
        return {"ok": False, "error": "unknown_method"}

    def _page(self, items: list[Any], key: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            limit = int(params.get("limit") or 100)
            start = int(base64.b64decode(params["cursor"]).decode()) if params.get("cursor") else 0
        except (ValueError, UnicodeDecodeError):
            raise SlackMethodError("invalid_cursor") from None
        limit = max(1, min(limit, 1000))
        chunk = items[start : start + limit]
        more = start + limit < len(items)
        next_cursor = base64.b64encode(str(start + limit).encode()).decode() if more else ""
        return {"ok": True, key: chunk, "has_more": more,
                "response_metadata": {"next_cursor": next_cursor}}  # fmt: skip

    def _window(
        self, messages: list[dict[str, Any]], params: dict[str, str]
    ) -> list[dict[str, Any]]:
        oldest = _bound(params, "oldest", "0")
        latest = _bound(params, "latest", "9999999999.999999")
        inclusive = str(params.get("inclusive", "")).lower() in {"1", "true"}

        def inside(ts: Decimal) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        return [m for m in messages if inside(_ts(m["ts"]))]

    def _history(self, params: dict[str, str]) -> dict[str, Any]:
        channel = params.get("channel") or ""
        if channel not in self.history:
            raise SlackMethodError("channel_not_found")
        newest_first = sorted(self._window(self.history[channel], params),
                              key=lambda m: _ts(m["ts"]), reverse=True)  # fmt: skip
        page = self._page(newest_first, "messages", params)
        page["pin_count"] = 0
        return page

    def _replies(self, params: dict[str, str]) -> dict[str, Any]:
        channel = params.get("channel") or ""
        thread = params.get("ts") or ""
        threads = self.replies.get(channel)
        if threads is None:
            raise SlackMethodError("channel_not_found")
        if thread not in threads:
            raise SlackMethodError("thread_not_found")
        oldest_first = sorted(self._window(threads[thread], params), key=lambda m: _ts(m["ts"]))
        return self._page(oldest_first, "messages", params)

    def file_bytes(self, file_id: str) -> tuple[bytes, str] | None:
        path = self.root / "files" / file_id
        if "/" in file_id or ".." in file_id or not path.is_file():
            return None
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        for channel_messages in self.history.values():
            for message in channel_messages:
                for f in message.get("files", []):
                    if f.get("id") == file_id and f.get("mimetype"):
                        kind = f["mimetype"]
        return path.read_bytes(), kind
