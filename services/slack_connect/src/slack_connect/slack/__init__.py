"""Slack's raw objects as the Web API documents them, and our internal models."""

from slack_connect.slack.internal import AllowedChannel, Message, MessageFile, Reaction, User
from slack_connect.slack.raw import (
    SlackChannel,
    SlackChannelsPayload,
    SlackMessage,
    SlackMessagesPayload,
    SlackUser,
    SlackUserProfile,
    SlackUsersPayload,
)

__all__ = [
    "AllowedChannel",
    "Message",
    "MessageFile",
    "Reaction",
    "SlackChannel",
    "SlackChannelsPayload",
    "SlackMessage",
    "SlackMessagesPayload",
    "SlackUser",
    "SlackUserProfile",
    "SlackUsersPayload",
    "User",
]
