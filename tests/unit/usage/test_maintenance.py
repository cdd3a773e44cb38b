"""Which schedules the usage service keeps, and which work each maintenance job runs."""

from __future__ import annotations

import pytest

from chartwise_contracts.streams import Queues
from chartwise_runtime.worker import DoNotRetry
from chartwise_usage.maintenance import (
    EXPIRE_RESERVATIONS_JOB,
    EXPIRE_RESERVATIONS_SCHEDULE,
    STRIPE_RECONCILE_JOB,
    STRIPE_RECONCILE_SCHEDULE,
    MaintenanceJobs,
    schedule_plan,
)
from chartwise_usage.settings import Settings
from chartwise_usage.stripe_sync import ReconcileReport


def test_with_stripe_both_schedules_run_on_the_maintenance_queue_at_their_intervals() -> None:
    plan = schedule_plan(expiry_interval_s=30, reconcile_interval_s=3600, stripe_configured=True)

    assert [(s.schedule_id, s.queue, s.every_ms, s.template.name) for s in plan.upserts] == [
        (EXPIRE_RESERVATIONS_SCHEDULE, Queues.USAGE_MAINTENANCE, 30_000, EXPIRE_RESERVATIONS_JOB),
        (STRIPE_RECONCILE_SCHEDULE, Queues.USAGE_MAINTENANCE, 3_600_000, STRIPE_RECONCILE_JOB),
    ]
    assert plan.removals == ()


def test_without_stripe_the_reconciliation_schedule_is_removed() -> None:
    plan = schedule_plan(expiry_interval_s=1.5, reconcile_interval_s=3600, stripe_configured=False)

    assert [(s.schedule_id, s.every_ms) for s in plan.upserts] == [(EXPIRE_RESERVATIONS_SCHEDULE, 1_500)]
    assert plan.removals == (STRIPE_RECONCILE_SCHEDULE,)


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []

    async def release_expired(self) -> int:
        self.names.append("release_expired")
        return 3

    async def reconcile(self) -> ReconcileReport:
        self.names.append("reconcile")
        return ReconcileReport(checked=2, updated=1)


async def test_each_job_name_runs_its_own_work_and_reports_it() -> None:
    calls = Calls()
    jobs = MaintenanceJobs(release_expired=calls.release_expired, reconcile=calls.reconcile)

    released = await jobs.run(EXPIRE_RESERVATIONS_JOB)
    reconciled = await jobs.run(STRIPE_RECONCILE_JOB)

    assert calls.names == ["release_expired", "reconcile"]
    assert released == {"released": 3}
    assert reconciled == {"checked": 2, "updated": 1, "customers_created": 0, "failures": 0}


async def test_a_reconciliation_left_from_a_stripe_configuration_is_skipped_without_stripe() -> None:
    calls = Calls()
    jobs = MaintenanceJobs(release_expired=calls.release_expired, reconcile=None)

    result = await jobs.run(STRIPE_RECONCILE_JOB)

    assert calls.names == []
    assert result == {"skipped": "stripe is not configured"}


async def test_an_unknown_job_fails_without_retry() -> None:
    calls = Calls()
    jobs = MaintenanceJobs(release_expired=calls.release_expired, reconcile=calls.reconcile)

    with pytest.raises(DoNotRetry):
        await jobs.run("defragment-the-moon")
    assert calls.names == []


def test_recurring_work_is_turned_off_by_its_setting_or_its_former_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(environment="test").schedule_recurring_work is True
    assert Settings(environment="test", schedule_recurring_work=False).schedule_recurring_work is False
    assert Settings(environment="test", run_periodic_tasks=False).schedule_recurring_work is False
    monkeypatch.setenv("USAGE_SCHEDULE_RECURRING_WORK", "false")
    assert Settings(environment="test").schedule_recurring_work is False


def test_an_interval_shorter_than_the_schedulers_smallest_is_refused() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings(environment="test", expiry_sweep_interval_s=0.2)
