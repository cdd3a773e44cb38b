"""What the scheduler and the worker kit exchange about jobs.

A queue is the stream `queue_stream(name)` with one consumer group of workers. The scheduler writes a
`QueuedJob` into it (field `job`, its JSON) when the job is due; workers report what happened through the
job events below, on `Streams.JOB_EVENTS`, which the scheduler consumes to keep job records.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from chartwise_contracts.messages import Event

QUEUE_ENTRY_FIELD = "job"
"""The stream-entry field holding a `QueuedJob` as JSON."""

JOB_GROUP = "workers"
"""The consumer group every queue stream is read through."""

CANCEL_CHANNEL = "chartwise.jobs.cancel"
"""Pub/sub channel on which the scheduler announces a job id whose active run should stop."""


def cancel_key(job_id: str) -> str:
    """Set (with a TTL) by the scheduler when a job is cancelled, so a worker that missed the announcement sees it."""
    return f"chartwise:jobs:cancelled:{job_id}"


Progress = float | dict[str, JsonValue]


class JobState(StrEnum):
    WAITING = "waiting"
    DELAYED = "delayed"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


class Backoff(BaseModel):
    """Delay before retry n (1-based): fixed `delay_ms`, or `delay_ms * 2**(n-1)` capped, with jitter."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["fixed", "exponential"] = "exponential"
    delay_ms: int = Field(default=1_000, ge=0, le=86_400_000)
    max_delay_ms: int = Field(default=3_600_000, ge=0)
    jitter: float = Field(default=0.2, ge=0, le=1, description="Fraction of the delay randomised away.")


class QueuedJob(BaseModel):
    """One run of a job, as written to its queue stream."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str = Field(min_length=1, max_length=200)
    queue: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    attempt: int = Field(default=1, ge=1, description="1 for the first run, 2 for the first retry, ...")
    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff: Backoff = Field(default_factory=Backoff)
    timeout_ms: int | None = Field(default=None, gt=0, description="A run longer than this fails the attempt.")
    enqueued_at: AwareDatetime
    correlation_id: str = Field(default="", max_length=64)
    actor: str | None = Field(default=None, max_length=128)


class JobEvent(Event):
    """Base of the job events; each subclass names itself in `kind`, so one stream's events can be told apart."""

    job_id: str
    queue: str
    name: str


class JobActive(JobEvent):
    kind: Literal["JobActive"] = "JobActive"
    attempt: int = Field(ge=1)
    worker: str
    started_at: AwareDatetime


class JobProgress(JobEvent):
    kind: Literal["JobProgress"] = "JobProgress"
    attempt: int = Field(ge=1)
    sequence: int = Field(ge=1, description="Orders progress reports of one attempt.")
    progress: Progress


class JobCompleted(JobEvent):
    kind: Literal["JobCompleted"] = "JobCompleted"
    attempt: int = Field(ge=1)
    result: JsonValue = None
    finished_at: AwareDatetime


class JobRetrying(JobEvent):
    """An attempt failed and attempts remain; the scheduler releases `job` again at `next_run_at`."""

    kind: Literal["JobRetrying"] = "JobRetrying"
    attempt: int = Field(ge=1, description="The attempt that failed.")
    error: str
    next_run_at: AwareDatetime
    job: QueuedJob = Field(description="The next run, with its attempt number already raised.")


class JobFailed(JobEvent):
    kind: Literal["JobFailed"] = "JobFailed"
    attempt: int = Field(ge=1)
    error: str
    finished_at: AwareDatetime
    dead_lettered: bool = True


class JobCancelled(JobEvent):
    kind: Literal["JobCancelled"] = "JobCancelled"
    reason: str = ""
    cancelled_at: AwareDatetime


def job_event_types() -> dict[str, type[JobEvent]]:
    return {cls.__name__: cls for cls in (JobActive, JobProgress, JobCompleted, JobRetrying, JobFailed, JobCancelled)}


AnyJobEvent = Annotated[
    JobActive | JobProgress | JobCompleted | JobRetrying | JobFailed | JobCancelled, Field(discriminator="kind")
]
"""Any job event, told apart by `kind`; a FastStream subscriber on `Streams.JOB_EVENTS` can be typed with it."""
