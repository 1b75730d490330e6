"""Workflows: definitions, the durable execution engine, triggers."""
