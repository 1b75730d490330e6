"""Automation service: workflows, rules and events (FastAPI + SQLAlchemy 2 + Celery 5)."""

__version__ = "0.1.0"
