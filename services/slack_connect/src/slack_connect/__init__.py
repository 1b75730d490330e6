"""Slack through Paragon: channels, users and allowlisted messages, sent on to the mesh."""

from slack_connect.app import create_app
from slack_connect.settings import Settings

__all__ = ["Settings", "create_app"]
