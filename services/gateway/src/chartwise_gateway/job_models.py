"""HTTP models of jobs for the admin's queue routes: what an admin sends, and the scheduler's replies unwrapped."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from chartwise_contracts.jobs import Backoff, JobState
from chartwise_contracts.scheduler import JobOptions, JobRequest, JobView

JobId = Annotated[str, Field(min_length=1, max_length=200)]
QueueName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
FinishedState = Literal[JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]


class JobIn(BaseModel):
    """One job to add to the queue of the route."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    job_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=150,
        pattern=r"^[^\s]+$",
        description="Adding the same id again returns the existing job (`created: false`).",
    )
    delay_ms: int | None = Field(default=None, ge=0, le=366 * 86_400_000, description="Run after this many ms.")
    attempts: int = Field(default=1, ge=1, le=100, description="Runs allowed in total, the first included.")
    backoff: Backoff = Field(default_factory=Backoff, description="The wait before each retry.")

    def request(self, queue: str) -> JobRequest:
        return JobRequest(
            queue=queue,
            name=self.name,
            payload=self.payload,
            job_id=self.job_id,
            delay_ms=self.delay_ms,
            options=JobOptions(attempts=self.attempts, backoff=self.backoff),
        )


class EnqueuedJob(BaseModel):
    job: JobView
    created: bool = Field(description="False when a job with this id already existed and was returned as is.")


class EnqueuedJobs(BaseModel):
    jobs: list[EnqueuedJob]


class JobList(BaseModel):
    items: list[JobView]
    total: int
    offset: int
    limit: int


class QueueState(BaseModel):
    queue: str
    paused: bool
    released: int = Field(description="Held jobs let through by a resume.")


class CleanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: FinishedState
    older_than_ms: int = Field(default=0, ge=0, description="Only records that finished at least this long ago.")
    limit: int = Field(default=1_000, ge=1, le=10_000)


class Cleaned(BaseModel):
    queue: str
    removed_ids: list[str]


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class JobCancellation(BaseModel):
    job_id: str
    outcome: Literal["cancelled", "stopping"] = Field(
        description="`cancelled`: removed before it ran; `stopping`: running, and asked to stop."
    )
