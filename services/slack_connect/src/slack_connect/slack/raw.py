"""Raw Slack Web API objects (conversations.list, users.list, conversations.history).

The documented fields are typed; anything else Slack sends is kept
(``extra="allow"``) so nothing is lost between versions of the API.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "SlackChannel",
    "SlackChannelsPayload",
    "SlackEdited",
    "SlackFile",
    "SlackMessage",
    "SlackMessagesPayload",
    "SlackReaction",
    "SlackTopic",
    "SlackUser",
    "SlackUserProfile",
    "SlackUsersPayload",
]

_TS = re.compile(r"^\d{1,12}\.\d{1,6}\Z")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,20}\Z")


def check_ts(value: str) -> str:
    if not _TS.match(value):
        raise ValueError(f"not a Slack ts: {value!r}")
    return value


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class SlackTopic(_Raw):
    value: str = ""
    creator: str = ""
    last_set: int = 0


class SlackChannel(_Raw):
    id: str
    name: str | None = None
    name_normalized: str | None = None
    is_channel: bool = False
    is_group: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    is_shared: bool = False
    is_ext_shared: bool = False
    is_org_shared: bool = False
    is_member: bool = False
    created: int | None = None
    updated: int | None = None
    creator: str | None = None
    unlinked: int | None = None
    topic: SlackTopic | None = None
    purpose: SlackTopic | None = None
    previous_names: list[str] = Field(default_factory=list)
    num_members: int | None = None
    context_team_id: str | None = None
    shared_team_ids: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if not CHANNEL_ID.match(value):
            raise ValueError(f"not a Slack conversation id: {value!r}")
        return value


class SlackUserProfile(_Raw):
    title: str | None = None
    phone: str | None = None
    real_name: str | None = None
    real_name_normalized: str | None = None
    display_name: str | None = None
    display_name_normalized: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    status_text: str | None = None
    status_emoji: str | None = None
    status_expiration: int | None = None
    avatar_hash: str | None = None
    image_72: str | None = None
    image_192: str | None = None
    bot_id: str | None = None
    api_app_id: str | None = None
    always_active: bool | None = None
    team: str | None = None


class SlackUser(_Raw):
    id: str
    team_id: str | None = None
    name: str | None = None
    deleted: bool = False
    color: str | None = None
    real_name: str | None = None
    tz: str | None = None
    tz_label: str | None = None
    tz_offset: int | None = None
    profile: SlackUserProfile = Field(default_factory=SlackUserProfile)
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_bot: bool = False
    is_app_user: bool = False
    is_email_confirmed: bool | None = None
    updated: int | None = None


class SlackReaction(_Raw):
    name: str
    count: int = 0
    users: list[str] = Field(default_factory=list)


class SlackEdited(_Raw):
    user: str | None = None
    ts: str


class SlackFile(_Raw):
    id: str
    name: str | None = None
    title: str | None = None
    mimetype: str | None = None
    filetype: str | None = None
    size: int | None = None
    url_private: str | None = None
    url_private_download: str | None = None
    mode: str | None = None


class SlackMessage(_Raw):
    type: str = "message"
    subtype: str | None = None
    ts: str
    channel: str | None = None
    user: str | None = None
    bot_id: str | None = None
    username: str | None = None
    team: str | None = None
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    files: list[SlackFile] = Field(default_factory=list)
    reactions: list[SlackReaction] = Field(default_factory=list)
    edited: SlackEdited | None = None
    thread_ts: str | None = None
    parent_user_id: str | None = None
    reply_count: int | None = None
    reply_users_count: int | None = None
    latest_reply: str | None = None
    reply_users: list[str] = Field(default_factory=list)
    client_msg_id: str | None = None
    hidden: bool = False

    @field_validator("ts", "thread_ts", "latest_reply")
    @classmethod
    def _slack_ts(cls, value: str | None) -> str | None:
        return None if value is None else check_ts(value)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


class SlackChannelsPayload(_Raw):
    """The body of conversations.list (``ok``, ``channels``, ``response_metadata``)."""

    ok: bool = True
    channels: list[SlackChannel]


class SlackUsersPayload(_Raw):
    """The body of users.list (``ok``, ``members``, ``response_metadata``)."""

    ok: bool = True
    members: list[SlackUser]


class SlackMessagesPayload(_Raw):
    """conversations.history (plus thread replies) for one channel."""

    ok: bool = True
    channel: str
    messages: list[SlackMessage]
    has_more: bool = False

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if not CHANNEL_ID.match(value):
            raise ValueError(f"not a Slack conversation id: {value!r}")
        return value
