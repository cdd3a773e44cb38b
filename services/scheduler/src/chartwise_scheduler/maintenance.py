"""The scheduler's own recurring work: sweeping job records whose retention age has passed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from chartwise_contracts.jobs import QueuedJob
from chartwise_contracts.scheduler import JobOptions, JobTemplate, RetentionPolicy, ScheduleSpec
from chartwise_contracts.streams import Queues
from chartwise_runtime.logging import get_logger
from chartwise_scheduler.store import JobStore

log = get_logger(__name__)


class SweepPayload(BaseModel):
    """The sweep job carries no payload."""

    model_config = ConfigDict(extra="ignore")


SWEEP_SCHEDULE_ID = "scheduler:sweep-expired"
SWEEP_JOB_NAME = "sweep-expired"


def sweep_schedule(*, every_ms: int) -> ScheduleSpec:
    """The sweep as a schedule; its own runs keep only a few records so the sweep leaves little to sweep."""
    return ScheduleSpec(
        schedule_id=SWEEP_SCHEDULE_ID,
        queue=Queues.SCHEDULER_MAINTENANCE,
        every_ms=every_ms,
        template=JobTemplate(
            name=SWEEP_JOB_NAME,
            options=JobOptions(
                attempts=3,
                remove_on_complete=RetentionPolicy(count=10),
                remove_on_fail=RetentionPolicy(count=100, age_s=7 * 86_400),
            ),
        ),
    )


async def sweep_expired(job: QueuedJob, store: JobStore) -> dict[str, int]:
    """Handler of the sweep job: removes expired records in bounded batches; the result says how many."""
    removed = await store.sweep_expired()
    log.info("expired job records swept", removed=removed, job_id=job.job_id)
    return {"removed": removed}
