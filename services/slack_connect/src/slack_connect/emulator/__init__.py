"""A local Paragon emulator (Proxy, Users and trigger APIs) over an emulated Slack workspace."""

from slack_connect.emulator.app import EmulatorConfig, create_emulator
from slack_connect.emulator.workspace import SlackWorkspace

__all__ = ["EmulatorConfig", "SlackWorkspace", "create_emulator"]
