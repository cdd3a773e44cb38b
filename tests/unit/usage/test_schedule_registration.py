"""Schedule registration keeps asking an absent scheduler, with backoff, until it answers or the service stops."""

from __future__ import annotations

import asyncio

import pytest

from chartwise_contracts.scheduler import ScheduleSpec
from chartwise_devtools.waiting import eventually
from chartwise_runtime.errors import InvalidInput, ServiceUnavailable
from chartwise_usage.maintenance import STRIPE_RECONCILE_SCHEDULE, schedule_plan
from chartwise_usage.schedule_registration import ScheduleRegistration, retry_delay_s

SHUTDOWN_BOUND_S = 10.0
"""Far above a prompt stop, far below the backoff a hung stop would wait out."""

PLAN = schedule_plan(expiry_interval_s=30, reconcile_interval_s=3600, stripe_configured=False)
STALE_RECONCILE = schedule_plan(expiry_interval_s=30, reconcile_interval_s=3600, stripe_configured=True).upserts[1]


class FakeScheduler:
    """Fails the first `failures` calls with `error`, then keeps schedules by id."""

    def __init__(self, *, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ServiceUnavailable("scheduler did not answer")
        self.calls = 0
        self.schedules: dict[str, ScheduleSpec] = {STRIPE_RECONCILE_SCHEDULE: STALE_RECONCILE}

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error

    async def upsert(self, spec: ScheduleSpec) -> bool:
        self._maybe_fail()
        created = spec.schedule_id not in self.schedules
        self.schedules[spec.schedule_id] = spec
        return created

    async def remove(self, schedule_id: str) -> bool:
        self._maybe_fail()
        return self.schedules.pop(schedule_id, None) is not None


def registration(scheduler: FakeScheduler) -> ScheduleRegistration:
    return ScheduleRegistration(scheduler, PLAN, retry_initial_s=0.001, retry_max_s=0.005)


async def test_failed_attempts_are_retried_until_the_schedules_are_registered_and_the_stale_one_removed() -> None:
    scheduler = FakeScheduler(failures=3)
    registering = registration(scheduler)

    await registering.start()
    await eventually(registering.registered.is_set)

    assert registering.attempts == 4
    assert set(scheduler.schedules) == {PLAN.upserts[0].schedule_id}
    assert not registering.running


async def test_a_lost_connection_is_retried_like_an_absent_scheduler() -> None:
    scheduler = FakeScheduler(failures=1, error=ConnectionError("redis went away"))
    registering = registration(scheduler)

    await registering.start()
    await eventually(registering.registered.is_set)

    assert registering.attempts == 2


async def test_a_schedule_the_scheduler_refuses_is_not_asked_for_again() -> None:
    scheduler = FakeScheduler(failures=1, error=InvalidInput("unknown time zone"))
    registering = registration(scheduler)

    await registering.start()
    await eventually(lambda: not registering.running)

    assert (registering.attempts, scheduler.calls) == (1, 1)
    assert not registering.registered.is_set()


async def test_stop_ends_the_retries() -> None:
    scheduler = FakeScheduler(failures=10**9)
    registering = registration(scheduler)
    await registering.start()
    await eventually(lambda: registering.attempts >= 3)

    await registering.stop()

    assert not registering.running
    assert not registering.registered.is_set()


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0), (10_000, 30.0)])
def test_the_wait_doubles_up_to_its_cap_and_jitter_only_shortens_it(attempt: int, ceiling: float) -> None:
    delays = [retry_delay_s(attempt, initial_s=1.0, max_s=30.0) for _ in range(50)]

    assert all(ceiling / 2 <= d <= ceiling for d in delays)


class ReplyAwaitingScheduler:
    """Waits for its reply the way `chartwise_runtime.rpc.request` does, with `asyncio.wait_for`."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.reply: asyncio.Future[bool] | None = None

    async def upsert(self, spec: ScheduleSpec) -> bool:
        self.reply = asyncio.get_running_loop().create_future()
        self.asked.set()
        return await asyncio.wait_for(self.reply, timeout=60)

    async def remove(self, schedule_id: str) -> bool:
        raise AssertionError("never reached: the first upsert does not succeed")


async def test_stop_ends_the_retries_even_when_the_reply_wait_swallows_the_cancellation() -> None:
    scheduler = ReplyAwaitingScheduler()
    # A backoff of 30-60 s: a stop that waits it out is a stop that hangs.
    registering = ScheduleRegistration(scheduler, PLAN, retry_initial_s=60, retry_max_s=60)
    await registering.start()
    await scheduler.asked.wait()
    assert scheduler.reply is not None

    # The reply channel fails just as the service stops: on Python 3.11 `wait_for` then raises the failure
    # and drops the cancellation.
    scheduler.reply.set_exception(ServiceUnavailable("reply channel lost"))
    stopping = asyncio.ensure_future(registering.stop())

    done, _ = await asyncio.wait({stopping}, timeout=SHUTDOWN_BOUND_S)
    assert stopping in done, "stop is waiting out the retry backoff"
    assert not registering.running
    assert not registering.registered.is_set()
