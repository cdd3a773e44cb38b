"""The usage service's recurring work: the schedules it keeps with the scheduler, and the jobs they run."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, JsonValue

from chartwise_contracts.scheduler import JobOptions, JobTemplate, RetentionPolicy, ScheduleSpec
from chartwise_contracts.streams import Queues
from chartwise_runtime.logging import get_logger
from chartwise_runtime.worker import DoNotRetry, JobContext
from chartwise_usage.stripe_sync import ReconcileReport

log = get_logger(__name__)

EXPIRE_RESERVATIONS_JOB = "expire-reservations"
STRIPE_RECONCILE_JOB = "stripe-reconcile"
EXPIRE_RESERVATIONS_SCHEDULE = f"usage:{EXPIRE_RESERVATIONS_JOB}"
STRIPE_RECONCILE_SCHEDULE = f"usage:{STRIPE_RECONCILE_JOB}"

# Both jobs are idempotent, so a failed run is simply tried again; few records are kept because the
# next slot repeats the work anyway.
JOB_OPTIONS = JobOptions(
    attempts=3,
    remove_on_complete=RetentionPolicy(count=100, age_s=86_400),
    remove_on_fail=RetentionPolicy(count=100, age_s=7 * 86_400),
)


class MaintenancePayload(BaseModel):
    """The maintenance jobs carry no payload: the job name says what to do."""

    model_config = ConfigDict(extra="ignore")


@dataclass(frozen=True, slots=True)
class SchedulePlan:
    """What start-up asks of the scheduler: schedules to upsert, and stale ones to remove."""

    upserts: tuple[ScheduleSpec, ...]
    removals: tuple[str, ...]


def _every(schedule_id: str, job: str, interval_s: float) -> ScheduleSpec:
    return ScheduleSpec(
        schedule_id=schedule_id,
        queue=Queues.USAGE_MAINTENANCE,
        every_ms=round(interval_s * 1000),
        template=JobTemplate(name=job, options=JOB_OPTIONS),
    )


def schedule_plan(*, expiry_interval_s: float, reconcile_interval_s: float, stripe_configured: bool) -> SchedulePlan:
    """The sweep always; the Stripe reconciliation only with Stripe configured, else its schedule is removed."""
    sweep = _every(EXPIRE_RESERVATIONS_SCHEDULE, EXPIRE_RESERVATIONS_JOB, expiry_interval_s)
    if not stripe_configured:
        return SchedulePlan(upserts=(sweep,), removals=(STRIPE_RECONCILE_SCHEDULE,))
    reconcile = _every(STRIPE_RECONCILE_SCHEDULE, STRIPE_RECONCILE_JOB, reconcile_interval_s)
    return SchedulePlan(upserts=(sweep, reconcile), removals=())


@dataclass(frozen=True, slots=True)
class MaintenanceJobs:
    """Runs a maintenance job by its name; `reconcile` is None when Stripe is not configured."""

    release_expired: Callable[[], Awaitable[int]]
    reconcile: Callable[[], Awaitable[ReconcileReport]] | None

    async def run(self, name: str) -> dict[str, JsonValue]:
        if name == EXPIRE_RESERVATIONS_JOB:
            return {"released": await self.release_expired()}
        if name == STRIPE_RECONCILE_JOB:
            if self.reconcile is None:
                # A schedule left from a run with Stripe configured; start-up removes it, so this is transient.
                log.warning("stripe reconciliation skipped: stripe is not configured")
                return {"skipped": "stripe is not configured"}
            report = await self.reconcile()
            return dict(dataclasses.asdict(report))
        raise DoNotRetry(f"unknown usage maintenance job {name!r}")

    async def handle(self, payload: MaintenancePayload, context: JobContext) -> dict[str, JsonValue]:
        """The worker-kit handler of `Queues.USAGE_MAINTENANCE`."""
        return await self.run(context.name)
