"""Composition root of the usage service: builds its clients and wires its handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from pydantic import Field
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from chartwise_contracts import Groups, Streams
from chartwise_contracts.analysis import AnalysisCancelled, AnalysisCompleted, AnalysisEvent, AnalysisFailed
from chartwise_contracts.identity import IdentityEvent, UserRegistered
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import (
    USAGE_SERVICE,
    AdminUsageOverview,
    GetPlan,
    GetUsage,
    HandleStripeWebhook,
    PlanDetails,
    QuotaReserved,
    ReserveQuota,
    SetPlan,
    SetTimeZone,
    StripeWebhookHandled,
    UsageOverview,
    UsageReport,
)
from chartwise_runtime.broker import reliable_subscriber
from chartwise_runtime.rpc import replies_with_errors, serves_requests
from chartwise_runtime.service import ServiceRuntime
from chartwise_usage import handlers
from chartwise_usage.billing import StripeSdkBilling, make_stripe_client
from chartwise_usage.bootstrap import Usage, bootstrap, connect_redis
from chartwise_usage.periodic import run_each_slot
from chartwise_usage.settings import Settings
from chartwise_usage.storage import INDEXES

# Left to right: the events usage acts on first; any other event of the stream falls back to the base type.
AnalysisLifecycle = Annotated[
    AnalysisCompleted | AnalysisFailed | AnalysisCancelled | AnalysisEvent, Field(union_mode="left_to_right")
]
IdentityLifecycle = Annotated[UserRegistered | IdentityEvent, Field(union_mode="left_to_right")]


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime.create(settings, indexes=INDEXES)
    redis = connect_redis(settings.redis_url)
    billing = None
    if settings.stripe_api_key is not None:
        client = make_stripe_client(
            api_key=settings.stripe_api_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            timeout_s=settings.stripe_timeout_s,
            max_retries=settings.stripe_max_retries,
        )
        billing = StripeSdkBilling(client)
    usage = bootstrap(
        redis=redis,
        db=runtime.db,
        tiers=settings.plans,
        reservation_ttl=timedelta(seconds=settings.reservation_ttl_s),
        settled_ttl=timedelta(seconds=settings.settled_record_ttl_s),
        plan_cache_ttl=timedelta(seconds=settings.plan_cache_ttl_s),
        billing=billing,
        webhook_secret=settings.stripe_webhook_secret.get_secret_value() if settings.stripe_webhook_secret else None,
    )
    register_handlers(runtime.broker, usage, consumer=settings.consumer_name)
    tasks: list[asyncio.Task[None]] = []

    async def create_groups() -> None:
        await ensure_groups(redis)

    async def start_periodic_tasks() -> None:
        if not settings.run_periodic_tasks:
            return
        owner = settings.consumer_name
        tasks.append(
            asyncio.create_task(
                run_each_slot(
                    redis,
                    name="expire-reservations",
                    interval_s=settings.expiry_sweep_interval_s,
                    owner=owner,
                    job=usage.quota.release_expired,
                )
            )
        )
        if billing is not None:

            async def reconcile() -> None:
                await usage.stripe_sync.reconcile(billing)

            tasks.append(
                asyncio.create_task(
                    run_each_slot(
                        redis,
                        name="stripe-reconcile",
                        interval_s=settings.stripe_reconcile_interval_s,
                        owner=owner,
                        job=reconcile,
                    )
                )
            )

    async def stop_periodic_tasks() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await redis.aclose()

    return runtime.app(
        description="Meters analyses against plans, reserves quota, keeps Stripe plan state.",
        on_startup=[create_groups],
        after_startup=[start_periodic_tasks],
        on_shutdown=[stop_periodic_tasks],
    )


RPC_OPERATIONS = (
    "ReserveQuota",
    "GetUsage",
    "GetPlan",
    "SetPlan",
    "SetTimeZone",
    "AdminUsageOverview",
    "HandleStripeWebhook",
)
CONSUMED_STREAMS = (Streams.ANALYSIS_EVENTS, Streams.IDENTITY_EVENTS)


async def ensure_groups(redis: Redis) -> None:
    """Creates the consumer groups before the broker starts, so nothing sent in between is skipped.

    Event streams are read from their beginning the first time, so events published before the usage
    service first ran are still applied; request streams start from now.
    """
    starts = [(s.name, "0") for s in CONSUMED_STREAMS] + [
        (rpc_subject(USAGE_SERVICE, op), "$") for op in RPC_OPERATIONS
    ]
    for stream, start in starts:
        try:
            await redis.xgroup_create(stream, Groups.USAGE, id=start, mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise


Handler = Callable[..., Awaitable[Any]]


def register_handlers(broker: RedisBroker, usage: Usage, *, consumer: str) -> None:
    """Subscribes the request/reply operations and the event consumers, all in consumer group `usage`."""

    def rpc(operation: str) -> Callable[[Handler], Handler]:
        return serves_requests(broker, rpc_subject(USAGE_SERVICE, operation), group=Groups.USAGE, consumer=consumer)

    @rpc("ReserveQuota")
    @replies_with_errors
    async def reserve_quota(command: ReserveQuota) -> QuotaReserved:
        return await handlers.reserve_quota(command, usage)

    @rpc("GetUsage")
    @replies_with_errors
    async def get_usage(query: GetUsage) -> UsageReport:
        return await handlers.get_usage(query, usage)

    @rpc("GetPlan")
    @replies_with_errors
    async def get_plan(query: GetPlan) -> PlanDetails:
        return await handlers.get_plan(query, usage)

    @rpc("SetPlan")
    @replies_with_errors
    async def set_plan(command: SetPlan) -> PlanDetails:
        return await handlers.set_plan(command, usage)

    @rpc("SetTimeZone")
    @replies_with_errors
    async def set_time_zone(command: SetTimeZone) -> PlanDetails:
        return await handlers.set_time_zone(command, usage)

    @rpc("AdminUsageOverview")
    @replies_with_errors
    async def admin_usage_overview(query: AdminUsageOverview) -> UsageOverview:
        return await handlers.admin_usage_overview(query, usage)

    @rpc("HandleStripeWebhook")
    @replies_with_errors
    async def handle_stripe_webhook(command: HandleStripeWebhook) -> StripeWebhookHandled:
        return await handlers.handle_stripe_webhook(command, usage)

    @reliable_subscriber(broker, Streams.ANALYSIS_EVENTS, group=Groups.USAGE, consumer=consumer)
    async def on_analysis_event(event: AnalysisLifecycle) -> None:
        await handlers.on_analysis_event(event, usage)

    @reliable_subscriber(broker, Streams.IDENTITY_EVENTS, group=Groups.USAGE, consumer=consumer)
    async def on_identity_event(event: IdentityLifecycle) -> None:
        await handlers.on_identity_event(event, usage)
