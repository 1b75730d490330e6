"""Request and response bodies of the workflow API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STEP_ID = r"^[A-Za-z_][A-Za-z0-9_\-]{0,99}$"
Priority = Literal["low", "normal", "high", "critical"]
TriggerType = Literal["manual", "schedule", "webhook", "event"]


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(
        default=1, ge=1, le=20, description="attempts in all, the first included"
    )
    backoff: Literal["fixed", "exponential"] = "exponential"
    delay_seconds: float = Field(
        default=1.0, ge=0, le=86_400, description="wait before the 2nd attempt"
    )
    max_delay_seconds: float = Field(default=3600.0, ge=0, le=7 * 86_400)
    jitter: bool = True


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=STEP_ID)
    type: str = Field(min_length=1, max_length=50)
    name: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] | None = Field(
        default=None,
        max_length=100,
        description="steps that must finish first; default: the previous step in the list",
    )
    retry: RetryPolicy = Field(default_factory=lambda: RetryPolicy())
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)
    continue_on_fail: bool = False


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    trigger_type: TriggerType = "manual"
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1, max_length=200)
    enabled: bool = True


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    trigger_type: TriggerType | None = None
    trigger_config: dict[str, Any] | None = None
    steps: list[StepSpec] | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None


class WorkflowOut(BaseModel):
    id: str
    name: str
    description: str
    trigger_type: str
    trigger_config: dict[str, Any]
    steps: list[dict[str, Any]]
    enabled: bool
    version: int
    # The inbound-webhook URL with its token: only in the answer that issued the token
    # (create, the update that made the workflow webhook-triggered, POST
    # .../webhook-token); null everywhere else, where webhook_url_hint has "***" for it.
    webhook_url: str | None = None
    webhook_url_hint: str | None = None
    next_run_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WorkflowList(BaseModel):
    items: list[WorkflowOut]
    total: int
    limit: int
    offset: int


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_data: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = "normal"


class StepRunOut(BaseModel):
    step_id: str
    type: str
    status: str
    input: Any = None
    output: Any = None
    error: str | None = None
    attempts: int
    next_attempt_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None


class ExecutionOut(BaseModel):
    id: str
    workflow_id: str
    status: str
    priority: str
    trigger: str
    input: dict[str, Any]
    context: dict[str, Any]
    error: str | None
    run_count: int
    resume_at: datetime | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepRunOut] = Field(default_factory=list)


class ExecutionList(BaseModel):
    items: list[ExecutionOut]
    total: int
    limit: int
    offset: int


class FailedExecution(BaseModel):
    id: str
    workflow_id: str
    workflow_name: str
    error: str | None
    created_at: datetime


class ExecutionSummary(BaseModel):
    """The tenant's executions created at or after ``since``, over every workflow."""

    since: datetime
    total: int
    by_status: dict[str, int]
    latest_failures: list[FailedExecution] = Field(
        description="the newest failed executions in the window (at most 5)"
    )
