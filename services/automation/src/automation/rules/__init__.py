"""Automation rules: triggers, conditions, actions."""
