"""What happens to data Paragon workflows post back: filter, dedup, store, send.

Only allowlisted channels' messages become internal :class:`Message` models;
the rest are counted and dropped before anything is stored or sent. A
message's ``(channel, ts)`` is claimed in the store before sending, and
released again if the mesh refuses, so a redelivery is neither lost nor
duplicated.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from common_mesh import AsyncMeshEngine
from slack_connect.slack.internal import AllowedChannel, Message, User
from slack_connect.slack.raw import (
    SlackChannel,
    SlackChannelsPayload,
    SlackMessage,
    SlackMessagesPayload,
    SlackUsersPayload,
)
from slack_connect.store import SyncStore, ts_key

__all__ = ["Ingestor", "MessagesOutcome"]

_log = logging.getLogger("slack_connect.ingest")

MESSAGE_MODEL = "message"
USER_MODEL = "user"
CHANNEL_MODEL = "allowed_channel"


@dataclass(frozen=True)
class MessagesOutcome:
    channel: str
    received: int
    sent: int
    duplicates: int
    dropped_not_allowlisted: int
    cursor: str | None


class Ingestor:
    def __init__(self, store: SyncStore, mesh: AsyncMeshEngine, module: str) -> None:
        self.store = store
        self.mesh = mesh
        self.module = module

    async def send(self, org: str, model: str, items: list[object]) -> None:
        if items:
            await self.mesh.create_session(org, self.module, model).send_all_models(items)

    async def channels(self, org: str, payload: SlackChannelsPayload) -> dict[str, int]:
        await self.store.put_raw(
            org, "channels", {c.id: c.model_dump_json() for c in payload.channels}
        )
        allow = await self.store.allowlist(org)
        allowed = [AllowedChannel.from_slack(org, c) for c in payload.channels if c.id in allow]
        await self.send(org, CHANNEL_MODEL, list(allowed))
        return {"received": len(payload.channels), "allowed_sent": len(allowed)}

    async def users(self, org: str, payload: SlackUsersPayload) -> dict[str, int]:
        await self.store.put_raw(org, "users", {u.id: u.model_dump_json() for u in payload.members})
        users = [User.from_slack(org, u) for u in payload.members]
        await self.send(org, USER_MODEL, list(users))
        return {"received": len(users), "sent": len(users)}

    async def allowed_channels(self, org: str, channel_ids: set[str]) -> list[AllowedChannel]:
        known = await self.store.get_raw(org, "channels")
        return [
            AllowedChannel.from_slack(org, SlackChannel.model_validate_json(known[cid]))
            for cid in sorted(channel_ids)
            if cid in known
        ]

    async def _user_names(self, org: str) -> dict[str, str]:
        names = {}
        for uid, raw in (await self.store.get_raw(org, "users")).items():
            user = json.loads(raw)
            profile = user.get("profile") or {}
            names[uid] = (
                profile.get("display_name") or user.get("real_name") or user.get("name") or uid
            )
        return names

    async def messages(self, org: str, payload: SlackMessagesPayload) -> MessagesOutcome:
        allow = await self.store.allowlist(org)
        channel = payload.channel
        # A message may name its own channel; it must match an allowlisted one too.
        kept: list[SlackMessage] = []
        dropped = 0
        for message in payload.messages:
            target = message.channel or channel
            if target == channel and channel in allow:
                kept.append(message)
            else:
                dropped += 1
        if dropped:
            await self.store.count_dropped(org, channel, dropped)
            _log.info("dropped %d messages of non-allowlisted channels", dropped,
                      extra={"org_id": org, "channel": channel})  # fmt: skip
        if not kept:
            return MessagesOutcome(channel, len(payload.messages), 0, 0, dropped, None)

        # Same ts twice in one payload counts once.
        unique = list({m.ts: m for m in kept}.values())
        fresh_ts = await self.store.claim_new(org, channel, [m.ts for m in unique])
        fresh = set(fresh_ts)
        duplicates = len(kept) - len(fresh)
        names = await self._user_names(org) if fresh else {}
        # Parents first, then replies in ts order: a reply never arrives before its thread.
        ordered = sorted((m for m in unique if m.ts in fresh),
                         key=lambda m: (ts_key(m.thread_ts or m.ts), ts_key(m.ts)))  # fmt: skip
        models = [Message.from_slack(org, channel, m, names) for m in ordered]
        try:
            await self.send(org, MESSAGE_MODEL, list(models))
        except Exception:
            await self.store.release(org, channel, fresh_ts)
            raise
        newest = max((m.ts for m in kept), key=ts_key)
        await self.store.advance(
            org, channel, newest,
            {"received": len(payload.messages), "sent": len(models), "duplicates": duplicates,
             "replies": sum(1 for m in models if m.parent_ts)},
        )  # fmt: skip
        return MessagesOutcome(
            channel, len(payload.messages), len(models), duplicates, dropped, newest
        )
