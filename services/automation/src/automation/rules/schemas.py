"""Request and response bodies of the rules API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from automation.rules.conditions import Condition


class EventTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["event"]
    event_type: str = Field(min_length=1, max_length=200, description="wildcards: user.*")


class ScheduleTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["schedule"]
    cron: str = Field(min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    enabled: bool = True
    priority: int = Field(default=0, ge=-1000, le=1000, description="higher runs first")
    trigger: EventTrigger | ScheduleTrigger = Field(discriminator="type")
    conditions: list[Condition] = Field(default_factory=list, max_length=50)
    condition_logic: Literal["and", "or"] = "and"
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=20)
    stop_after_match: bool = False


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    enabled: bool | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    trigger: EventTrigger | ScheduleTrigger | None = Field(default=None, discriminator="type")
    conditions: list[Condition] | None = Field(default=None, max_length=50)
    condition_logic: Literal["and", "or"] | None = None
    actions: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=20)
    stop_after_match: bool | None = None


class RuleOut(BaseModel):
    id: str
    name: str
    description: str
    enabled: bool
    priority: int
    trigger: dict[str, Any]
    conditions: list[dict[str, Any]]
    condition_logic: str
    actions: list[dict[str, Any]]
    stop_after_match: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    items: list[RuleOut]
    total: int
    limit: int
    offset: int


class RuleExecutionOut(BaseModel):
    id: str
    rule_id: str
    event_id: str | None
    matched: bool
    status: str
    condition_results: list[dict[str, Any]]
    action_results: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class RuleExecutionList(BaseModel):
    items: list[RuleExecutionOut]
    total: int
    limit: int
    offset: int
