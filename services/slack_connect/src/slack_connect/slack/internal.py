"""Our own models: only what the platform is allowed to keep moves into them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from common_core.markdown import slack_mrkdwn_to_text
from common_core.temporal import parse_slack_ts
from slack_connect.slack.raw import SlackChannel, SlackMessage, SlackUser

__all__ = ["AllowedChannel", "Message", "MessageFile", "Reaction", "User"]


class User(BaseModel):
    """A person of the customer's org: the one who connected Slack, or a workspace member."""

    org_id: str
    kind: Literal["connection", "org"]
    user_id: str
    team_id: str | None = None
    name: str | None = None
    real_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    tz: str | None = None

    @classmethod
    def from_slack(cls, org_id: str, raw: SlackUser) -> User:
        return cls(
            org_id=org_id,
            kind="org",
            user_id=raw.id,
            team_id=raw.team_id,
            name=raw.name,
            real_name=raw.real_name or raw.profile.real_name,
            display_name=raw.profile.display_name or None,
            email=raw.profile.email,
            is_bot=raw.is_bot or raw.profile.bot_id is not None,
            deleted=raw.deleted,
            tz=raw.tz,
        )


class AllowedChannel(BaseModel):
    """A channel the customer allowed us to monitor."""

    org_id: str
    channel_id: str
    team_id: str | None = None
    name: str | None = None
    topic: str = ""
    purpose: str = ""
    is_private: bool = False
    is_archived: bool = False
    num_members: int | None = None

    @classmethod
    def from_slack(cls, org_id: str, raw: SlackChannel) -> AllowedChannel:
        return cls(
            org_id=org_id,
            channel_id=raw.id,
            team_id=raw.context_team_id,
            name=raw.name,
            topic=raw.topic.value if raw.topic else "",
            purpose=raw.purpose.value if raw.purpose else "",
            is_private=raw.is_private or raw.is_group,
            is_archived=raw.is_archived,
            num_members=raw.num_members,
        )


class Reaction(BaseModel):
    name: str
    count: int


class MessageFile(BaseModel):
    file_id: str
    name: str | None = None
    mimetype: str | None = None
    size: int | None = None


class Message(BaseModel):
    """A message of an allowlisted channel; replies point at their thread parent."""

    org_id: str
    channel_id: str
    ts: str
    sent_at: datetime
    user_id: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    text: str = ""
    plain_text: str = ""
    thread_ts: str | None = None
    parent_ts: str | None = None
    reply_count: int = 0
    edited_at: datetime | None = None
    reactions: list[Reaction] = Field(default_factory=list)
    files: list[MessageFile] = Field(default_factory=list)

    @classmethod
    def from_slack(
        cls, org_id: str, channel_id: str, raw: SlackMessage, user_names: dict[str, str]
    ) -> Message:
        return cls(
            org_id=org_id,
            channel_id=channel_id,
            ts=raw.ts,
            sent_at=parse_slack_ts(raw.ts),
            user_id=raw.user,
            bot_id=raw.bot_id,
            subtype=raw.subtype,
            text=raw.text,
            plain_text=slack_mrkdwn_to_text(raw.text, user_names),
            thread_ts=raw.thread_ts,
            parent_ts=raw.thread_ts if raw.is_reply else None,
            reply_count=raw.reply_count or 0,
            edited_at=parse_slack_ts(raw.edited.ts) if raw.edited else None,
            reactions=[Reaction(name=r.name, count=r.count) for r in raw.reactions],
            files=[
                MessageFile(file_id=f.id, name=f.name, mimetype=f.mimetype, size=f.size)
                for f in raw.files
            ],
        )
