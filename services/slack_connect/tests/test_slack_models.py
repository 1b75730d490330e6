from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from slack_connect.slack import (
    AllowedChannel,
    Message,
    SlackChannelsPayload,
    SlackMessage,
    SlackMessagesPayload,
    SlackUsersPayload,
    User,
)

DATA = Path(__file__).resolve().parent / "slack" / "schematestdata"


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((DATA / name).read_text())


def test_every_schema_file_parses_into_raw_models() -> None:
    channels = SlackChannelsPayload.model_validate(load("conversations.list.json"))
    users = SlackUsersPayload.model_validate(load("users.list.json"))
    assert len(channels.channels) == 5
    assert len(users.members) == 7
    for path in sorted((DATA / "history").glob("*.json")):
        SlackMessagesPayload.model_validate({**json.loads(path.read_text()), "channel": path.stem})
    for path in sorted((DATA / "replies").glob("*.json")):
        for answer in json.loads(path.read_text()).values():
            assert [SlackMessage.model_validate(m) for m in answer["messages"]]


def test_channel_topic_purpose_and_unknown_fields_kept() -> None:
    general = SlackChannelsPayload.model_validate(load("conversations.list.json")).channels[0]
    assert general.topic is not None and general.topic.value == "Company-wide announcements"
    assert general.model_extra is not None
    assert general.model_extra["is_pending_ext_shared"] is False
    allowed = AllowedChannel.from_slack("acme", general)
    assert (allowed.channel_id, allowed.name, allowed.team_id) == (
        "C0567MFSJH2",
        "general",
        "T061EG9R6",
    )
    assert allowed.purpose.startswith("This channel is for team-wide")


def test_users_bots_and_deleted_users() -> None:
    members = SlackUsersPayload.model_validate(load("users.list.json")).members
    by_id = {u.id: User.from_slack("acme", u) for u in members}
    assert by_id["U0G9QF9C6"].email == "ana@example.com"
    assert by_id["U0G9QF9C6"].kind == "org"
    assert by_id["U0BOTUSER1"].is_bot
    assert by_id["U0DELETED"].deleted
    assert by_id["U0DELETED"].email is None


def test_messages_threads_files_edits_and_subtypes() -> None:
    raw = {
        m["ts"]: SlackMessage.model_validate(m)
        for m in load("history/C0567MFSJH2.json")["messages"]
    }
    replies = load("replies/C0567MFSJH2.json")["1700000020.000100"]["messages"]
    reply = Message.from_slack("acme", "C0567MFSJH2", SlackMessage.model_validate(replies[1]), {})
    assert reply.parent_ts == "1700000020.000100"
    assert reply.plain_text == "I'll draft the OKRs & budget"
    parent = Message.from_slack("acme", "C0567MFSJH2", raw["1700000020.000100"], {})
    assert parent.parent_ts is None and parent.reply_count == 2
    welcome = Message.from_slack(
        "acme", "C0567MFSJH2", raw["1700000000.000100"], {"U0BPQUNTA": "josé"}
    )
    assert (
        welcome.plain_text
        == "Welcome @josé! Read the handbook at the wiki (https://example.com/handbook)."
    )
    assert welcome.reactions[0].name == "wave" and welcome.reactions[0].count == 2
    assert welcome.sent_at == datetime(2023, 11, 14, 22, 13, 20, 100, tzinfo=UTC)
    with_file = Message.from_slack("acme", "C0567MFSJH2", raw["1700000030.000100"], {})
    assert with_file.files[0].file_id == "F0S43PZDF" and with_file.files[0].size == 42
    edited = Message.from_slack("acme", "C0567MFSJH2", raw["1700000040.000100"], {})
    assert edited.edited_at is not None
    bot = raw["1700000050.000100"]
    assert bot.subtype == "bot_message" and bot.model_extra and "bot_profile" in bot.model_extra
    left = raw["1700000160.000100"].model_extra
    assert left is not None and left["x_unknown_field"] == {"kept": True}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channel": "C0567MFSJH2", "messages": [{"ts": "yesterday"}]}, ("messages", 0, "ts")),
        ({"channel": "not-a-channel", "messages": []}, ("channel",)),
        ({"channel": "C0567MFSJH2", "messages": "nope"}, ("messages",)),
        ({"messages": []}, ("channel",)),
        (
            {"channel": "C0567MFSJH2", "messages": [{"ts": "1.1", "thread_ts": 5}]},
            ("messages", 0, "thread_ts"),
        ),
    ],
)
def test_bad_message_payloads_name_the_field(payload: dict, field: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError) as info:
        SlackMessagesPayload.model_validate(payload)
    assert info.value.errors()[0]["loc"] == field
