"""What other services ask of the scheduler: enqueue and cancel jobs, manage recurring schedules, read job state.

Each operation is served as request/reply on `rpc_subject("scheduler", op)` with `op` from `SchedulerOps`;
`EnqueueJob` may also be published fire-and-forget on `Streams.SCHEDULER_COMMANDS`. Times are aware datetimes;
delays and ages are whole milliseconds or seconds as their names say.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, model_validator

from chartwise_contracts.jobs import Backoff, JobState, Progress
from chartwise_contracts.messages import Command, Query, Reply

SCHEDULER_SERVICE = "scheduler"


class SchedulerOps:
    """Operation names; the request stream of each is `rpc_subject(SCHEDULER_SERVICE, op)`."""

    ENQUEUE = "enqueue"
    ENQUEUE_BULK = "enqueue-bulk"
    CANCEL = "cancel"
    GET_JOB = "get-job"
    FIND_JOBS = "find-jobs"
    QUEUE_COUNTS = "queue-counts"
    PAUSE_QUEUE = "pause-queue"
    RESUME_QUEUE = "resume-queue"
    CLEAN_QUEUE = "clean-queue"
    UPSERT_SCHEDULE = "upsert-schedule"
    REMOVE_SCHEDULE = "remove-schedule"
    LIST_SCHEDULES = "list-schedules"
    GET_SCHEDULE = "get-schedule"
    LIST_DEAD_LETTERS = "list-dead-letters"
    REPLAY_DEAD_LETTER = "replay-dead-letter"


class RetentionPolicy(BaseModel):
    """Keep at most `count` finished records of the queue, each for at most `age_s` seconds; None means no bound."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    count: int | None = Field(default=None, ge=0, le=1_000_000)
    age_s: int | None = Field(default=None, gt=0, le=365 * 86_400)


Retention = bool | int | RetentionPolicy
"""`True`: remove the record when the job finishes; `False`: keep it; a number: keep that many; or a policy."""

FINISHED_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class JobOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    attempts: int = Field(default=1, ge=1, le=100, description="Runs allowed in total, the first included.")
    backoff: Backoff = Field(default_factory=Backoff)
    timeout_ms: int | None = Field(default=None, gt=0, le=86_400_000)
    remove_on_complete: Retention = Field(default_factory=lambda: RetentionPolicy(count=1_000, age_s=86_400))
    remove_on_fail: Retention = Field(default_factory=lambda: RetentionPolicy(count=5_000, age_s=7 * 86_400))


class JobRequest(BaseModel):
    """One job to enqueue."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    queue: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    job_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=150,
        pattern=r"^[^\s]+$",
        description="Caller-chosen id: enqueueing the same id again returns the existing job.",
    )
    delay_ms: int | None = Field(default=None, ge=0, le=366 * 86_400_000)
    run_at: AwareDatetime | None = None
    parent_id: str | None = Field(default=None, min_length=1, max_length=200)
    options: JobOptions = Field(default_factory=JobOptions)

    @model_validator(mode="after")
    def _one_way_to_delay(self) -> Self:
        if self.delay_ms is not None and self.run_at is not None:
            raise ValueError("give delay_ms or run_at, not both")
        return self


class JobView(BaseModel):
    """A job record as the scheduler keeps it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    queue: str
    name: str
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    state: JobState
    attempt: int = Field(ge=1, description="The current (or last) run number.")
    max_attempts: int = Field(ge=1)
    progress: Progress | None = None
    result: JsonValue = None
    error: str | None = None
    created_at: AwareDatetime
    due_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    parent_id: str | None = None
    schedule_id: str | None = None
    cancel_requested: bool = False


class EnqueueJob(JobRequest, Command):
    """Adds a job now, after `delay_ms`, or at `run_at`; idempotent on `job_id`."""


class EnqueueJobReply(Reply):
    job: JobView
    created: bool = Field(description="False when a job with this id already existed and was returned as is.")


class EnqueueJobs(Command):
    """Adds several jobs; each is handled as one `EnqueueJob`."""

    jobs: list[JobRequest] = Field(min_length=1, max_length=1_000)


class EnqueueJobsReply(Reply):
    jobs: list[EnqueueJobReply]


class CancelJob(Command):
    """Cancels one job by id, or every unfinished job of a name in a queue."""

    job_id: str | None = Field(default=None, min_length=1, max_length=200)
    queue: str | None = Field(default=None, min_length=1, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _by_id_or_by_name(self) -> Self:
        by_name = self.queue is not None and self.name is not None
        if (self.job_id is None) == (not by_name):
            raise ValueError("give job_id, or queue and name")
        return self


class CancelJobReply(Reply):
    cancelled: bool = Field(description="True when at least one pending job was removed before it ran.")
    cancelled_ids: list[str] = Field(default_factory=list)
    signalled_ids: list[str] = Field(default_factory=list, description="Active jobs asked to stop cooperatively.")


class GetJob(Query):
    job_id: str = Field(min_length=1, max_length=200)


class GetJobReply(Reply):
    job: JobView


class FindJobs(Query):
    """Jobs of one name in a queue, newest first, optionally in one state."""

    queue: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    state: JobState | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)


class FindJobsReply(Reply):
    jobs: list[JobView]
    total: int = Field(ge=0)
    offset: int = Field(ge=0)
    limit: int = Field(ge=1)


class QueueCounts(Query):
    queue: str = Field(min_length=1, max_length=100)


class QueueCountsReply(Reply):
    queue: str
    paused: bool
    counts: dict[JobState, int]


class PauseQueue(Command):
    """Due jobs of the queue are held (state paused) instead of released to workers."""

    queue: str = Field(min_length=1, max_length=100)


class ResumeQueue(Command):
    """Releases the held jobs of the queue and lets due jobs through again."""

    queue: str = Field(min_length=1, max_length=100)


class QueueStatusReply(Reply):
    queue: str
    paused: bool
    released: int = Field(default=0, ge=0, description="Held jobs released by a resume.")


class CleanQueue(Command):
    """Removes finished records of one state that finished more than `older_than_ms` ago."""

    queue: str = Field(min_length=1, max_length=100)
    state: Literal[JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]
    older_than_ms: int = Field(default=0, ge=0)
    limit: int = Field(default=1_000, ge=1, le=10_000)


class CleanQueueReply(Reply):
    removed_ids: list[str]


class JobTemplate(BaseModel):
    """The job a schedule enqueues at each of its slots."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    options: JobOptions = Field(default_factory=JobOptions)


class ScheduleSpec(BaseModel):
    """Recurring work: a cron pattern in a time zone, or a fixed interval, bounded by start, end and a run limit."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schedule_id: str = Field(min_length=1, max_length=100, pattern=r"^[^\s]+$")
    queue: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    cron: str | None = Field(
        default=None,
        max_length=200,
        description="5 fields (minute first) or 6 fields (second first), evaluated in `tz`.",
    )
    tz: str = Field(default="UTC", min_length=1, max_length=64, description="An IANA time zone name.")
    every_ms: int | None = Field(default=None, ge=1_000, le=366 * 86_400_000)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    limit: int | None = Field(default=None, ge=1, description="Runs after which the schedule ends.")
    catch_up: bool = Field(
        default=False,
        description="After downtime, run every missed slot; by default only the latest missed slot runs, once.",
    )
    template: JobTemplate

    @model_validator(mode="after")
    def _cron_or_interval(self) -> Self:
        if (self.cron is None) == (self.every_ms is None):
            raise ValueError("give exactly one of cron and every_ms")
        if self.cron is not None and len(self.cron.split()) not in (5, 6):
            raise ValueError("a cron pattern has 5 or 6 fields")
        if self.start_at is not None and self.end_at is not None and self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class ScheduleView(ScheduleSpec):
    next_run_at: AwareDatetime | None = Field(default=None, description="None once the schedule has ended.")
    runs: int = Field(default=0, ge=0)
    ended: bool = False


class UpsertSchedule(ScheduleSpec, Command):
    """Creates the schedule, or replaces the one with the same id; the same id never yields two schedules."""


class UpsertScheduleReply(Reply):
    schedule: ScheduleView
    created: bool
    replaced: bool = Field(description="True when the timing changed and the schedule restarted from it.")


class RemoveSchedule(Command):
    schedule_id: str = Field(min_length=1, max_length=100)


class RemoveScheduleReply(Reply):
    removed: bool


class ListSchedules(Query):
    """Schedules in id order, optionally of one queue and only those whose id starts with `id_prefix`."""

    queue: str | None = Field(default=None, min_length=1, max_length=100)
    id_prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Only ids starting with this; callers namespace ids (e.g. `user:<id>:`) to list one owner's.",
    )
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=500)


class ListSchedulesReply(Reply):
    schedules: list[ScheduleView]
    total: int = Field(ge=0)


class GetSchedule(Query):
    schedule_id: str = Field(min_length=1, max_length=100)


class GetScheduleReply(Reply):
    schedule: ScheduleView


class DeadLetterView(BaseModel):
    """A job that failed for good, parked on its queue's dead-letter stream with its last error."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    entry_id: str = Field(description="The dead letter's id on the dead-letter stream.")
    job_id: str
    queue: str
    name: str
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    error: str
    attempts: int = Field(ge=0, description="Runs made before it was parked.")
    failed_at: AwareDatetime


class ListDeadLetters(Query):
    """A queue's dead letters, newest first; pass the previous page's `next_before` to go on."""

    queue: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    before: str | None = Field(default=None, min_length=3, max_length=40, pattern=r"^\d+-\d+$")
    limit: int = Field(default=50, ge=1, le=500)


class DeadLettersPage(Reply):
    queue: str
    items: list[DeadLetterView]
    next_before: str | None = Field(default=None, description="None on the last page.")


class ReplayDeadLetter(Command):
    """Puts a dead job back on its queue as a fresh first attempt and removes its dead letter."""

    queue: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    job_id: str = Field(min_length=1, max_length=200)


class DeadLetterReplayed(Reply):
    queue: str
    job_id: str
    requeued_at: AwareDatetime
