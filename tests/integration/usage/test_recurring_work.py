"""Recurring work as scheduler schedules: registered at start-up, run by the usage service's worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts import Message, Queues, Reply, Streams
from chartwise_contracts.identity import UserRegistered
from chartwise_contracts.jobs import JobState
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    FindJobs,
    FindJobsReply,
    ListSchedules,
    ListSchedulesReply,
    SchedulerOps,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import (
    USAGE_SERVICE,
    GetPlan,
    GetUsage,
    PlanDetails,
    QuotaReserved,
    ReserveQuota,
    UsageReport,
)
from chartwise_devtools.asgi import running
from chartwise_devtools.waiting import eventually
from chartwise_runtime.rpc import publish, request
from chartwise_scheduler.app import build_app as build_scheduler
from chartwise_scheduler.settings import Settings as SchedulerSettings
from chartwise_usage.app import UsageService, compose
from chartwise_usage.maintenance import (
    EXPIRE_RESERVATIONS_JOB,
    EXPIRE_RESERVATIONS_SCHEDULE,
    STRIPE_RECONCILE_SCHEDULE,
)
from chartwise_usage.settings import Settings
from tests.integration.usage.fake_stripe import StripeState, free_port, serving, subscription

R = TypeVar("R", bound=Reply)
UsageFactory = Callable[..., UsageService]

REGISTERED_WITHIN_S = 10.0


@pytest.fixture
def scheduler_app(redis: Redis, redis_url: str, mongo_url: str) -> AsgiFastStream:
    settings = SchedulerSettings(
        environment="test", redis_url=redis_url, mongo_url=mongo_url, consumer_name="scheduler-t"
    )
    return build_scheduler(settings)


@pytest.fixture
def usage_service(redis: Redis, redis_url: str, mongo_url: str, mongo_database_name: str) -> UsageFactory:
    """Builds the usage service; a short request timeout and backoff keep retries quick."""

    def build(**overrides: Any) -> UsageService:
        fields: dict[str, Any] = {
            "redis_url": redis_url,
            "mongo_url": mongo_url,
            "mongo_database": mongo_database_name,
            "environment": "test",
            "consumer_name": "usage-t",
            "rpc_timeout_s": 0.5,
            "schedule_retry_initial_s": 0.05,
            "schedule_retry_max_s": 0.2,
        }
        return compose(Settings(**{**fields, **overrides}))

    return build


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(redis_url)
    async with broker:
        await broker.start()
        yield broker


async def ask(broker: RedisBroker, message: Message, subject: str, reply_type: type[R]) -> R:
    return await request(broker, message, subject=subject, reply_type=reply_type, timeout=5)


async def usage_schedules(broker: RedisBroker) -> dict[str, int | None]:
    """Schedule id → interval of every schedule on the usage maintenance queue."""
    subject = rpc_subject(SCHEDULER_SERVICE, SchedulerOps.LIST_SCHEDULES)
    reply = await ask(broker, ListSchedules.new(queue=Queues.USAGE_MAINTENANCE), subject, ListSchedulesReply)
    assert reply.total == len(reply.schedules)
    return {s.schedule_id: s.every_ms for s in reply.schedules}


async def registered(service: UsageService) -> None:
    assert service.registration is not None
    await eventually(service.registration.registered.is_set, timeout=REGISTERED_WITHIN_S, message="not registered")


def with_stripe() -> dict[str, Any]:
    """Stripe configured at a port nothing listens on: reconciliation of no customers makes no call."""
    return {"stripe_api_key": "sk_test_local", "stripe_api_base": f"http://127.0.0.1:{free_port()}"}


async def test_starting_usage_twice_keeps_one_schedule_of_each(
    scheduler_app: AsgiFastStream, usage_service: UsageFactory, client: RedisBroker
) -> None:
    async with running(scheduler_app):
        for _ in range(2):
            service = usage_service(expiry_sweep_interval_s=30, stripe_reconcile_interval_s=3600, **with_stripe())
            async with running(service.app):
                await registered(service)

        schedules = await usage_schedules(client)

    assert schedules == {EXPIRE_RESERVATIONS_SCHEDULE: 30_000, STRIPE_RECONCILE_SCHEDULE: 3_600_000}


async def test_a_restart_with_a_new_interval_and_without_stripe_replaces_and_removes_schedules(
    scheduler_app: AsgiFastStream, usage_service: UsageFactory, client: RedisBroker
) -> None:
    async with running(scheduler_app):
        first = usage_service(expiry_sweep_interval_s=30, **with_stripe())
        async with running(first.app):
            await registered(first)
        second = usage_service(expiry_sweep_interval_s=45)
        async with running(second.app):
            await registered(second)

        schedules = await usage_schedules(client)

    assert schedules == {EXPIRE_RESERVATIONS_SCHEDULE: 45_000}


async def test_an_expired_reservation_is_released_by_the_scheduled_sweep(
    scheduler_app: AsgiFastStream, usage_service: UsageFactory, client: RedisBroker
) -> None:
    service = usage_service(reservation_ttl_s=0.2, expiry_sweep_interval_s=1)
    async with running(scheduler_app), running(service.app):
        await registered(service)
        reserve = ReserveQuota.new(user_id="u1", analysis_id="a1")
        await ask(client, reserve, rpc_subject(USAGE_SERVICE, "ReserveQuota"), QuotaReserved)

        async def nothing_reserved() -> bool:
            report = await ask(client, GetUsage.new(user_id="u1"), rpc_subject(USAGE_SERVICE, "GetUsage"), UsageReport)
            return all(w.reserved == 0 and w.used == 0 for w in report.windows)

        async def a_sweep_released_it() -> bool:
            query = FindJobs.new(queue=Queues.USAGE_MAINTENANCE, name=EXPIRE_RESERVATIONS_JOB, state=JobState.COMPLETED)
            found = await ask(client, query, rpc_subject(SCHEDULER_SERVICE, SchedulerOps.FIND_JOBS), FindJobsReply)
            return any(job.result == {"released": 1} and job.schedule_id for job in found.jobs)

        await eventually(nothing_reserved, timeout=5, message="the reservation was not released")
        await eventually(a_sweep_released_it, timeout=5, message="no sweep job reported the release")


async def test_a_scheduled_reconciliation_reads_the_plan_from_stripe(
    scheduler_app: AsgiFastStream, usage_service: UsageFactory, client: RedisBroker
) -> None:
    stripe = StripeState()
    async with serving(stripe) as stripe_base:
        service = usage_service(
            stripe_api_key="sk_test_local", stripe_api_base=stripe_base, stripe_reconcile_interval_s=1
        )
        async with running(scheduler_app), running(service.app):
            registered_user = UserRegistered.new(user_id="u1", time_zone="UTC", registered_at=datetime.now(UTC))
            await publish(client, registered_user, stream=Streams.IDENTITY_EVENTS.name, maxlen=1_000)
            await eventually(lambda: bool(stripe.customers), message="no Stripe customer was created")
            customer_id = next(iter(stripe.customers))
            stripe.subscriptions["sub_1"] = subscription("sub_1", customer_id, amount=3999)

            async def on_elite() -> bool:
                plan = await ask(client, GetPlan.new(user_id="u1"), rpc_subject(USAGE_SERVICE, "GetPlan"), PlanDetails)
                return plan.plan == "elite"

            await eventually(on_elite, timeout=5, message="the plan did not follow Stripe")


async def test_usage_starts_before_the_scheduler_and_registers_once_it_appears(
    scheduler_app: AsgiFastStream, usage_service: UsageFactory, client: RedisBroker
) -> None:
    service = usage_service()
    registration = service.registration
    assert registration is not None
    async with running(service.app):
        await eventually(lambda: registration.attempts >= 2, message="no retry while the scheduler is absent")
        assert not registration.registered.is_set()

        async with running(scheduler_app):
            await registered(service)
            schedules = await usage_schedules(client)

    assert schedules == {EXPIRE_RESERVATIONS_SCHEDULE: 30_000}


async def test_shutdown_ends_the_retries_while_the_scheduler_is_absent(usage_service: UsageFactory) -> None:
    service = usage_service()
    registration = service.registration
    assert registration is not None

    async with running(service.app):
        await eventually(lambda: registration.attempts >= 1)
        assert registration.running

    assert not registration.running
    assert not registration.registered.is_set()


async def test_recurring_work_can_be_turned_off(usage_service: UsageFactory) -> None:
    service = usage_service(schedule_recurring_work=False)

    assert (service.registration, service.worker) == (None, None)


async def stops_within(app: AsyncExitStack, bound_s: float) -> None:
    """Leaves `app`'s running context, failing only if that hangs past `bound_s` (no timing assertion)."""
    leaving = asyncio.ensure_future(app.aclose())
    done, _ = await asyncio.wait({leaving}, timeout=bound_s)
    assert leaving in done, f"shutdown still running after {bound_s:g}s"
    leaving.result()


@pytest.mark.parametrize("scheduler_gone", ["after-registration", "before-registration"])
async def test_usage_shuts_down_promptly_after_the_scheduler_stopped_first(
    usage_service: UsageFactory, scheduler_app: AsgiFastStream, scheduler_gone: str
) -> None:
    # Realistic backoff and request timeout: a shutdown that waited on either would overrun the bound.
    service = usage_service(rpc_timeout_s=5, schedule_retry_initial_s=30, schedule_retry_max_s=60)
    bound_s = Settings(environment="test").shutdown_timeout_s
    async with AsyncExitStack() as usage_running:
        if scheduler_gone == "after-registration":
            async with running(scheduler_app):
                await usage_running.enter_async_context(running(service.app))
                await registered(service)
        else:
            await usage_running.enter_async_context(running(service.app))
            assert service.registration is not None
            await eventually(lambda: service.registration is not None and service.registration.attempts >= 1)

        await stops_within(usage_running, bound_s)

    assert service.worker is not None
    assert not service.worker.running
    assert service.registration is not None
    assert not service.registration.running
