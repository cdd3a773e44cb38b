"""Composition root of the usage service: builds its clients and wires its handlers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from pydantic import Field

from chartwise_contracts import Groups, Queues, Streams
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
from chartwise_runtime.worker import Worker, worker_hooks
from chartwise_usage import handlers
from chartwise_usage.billing import StripeSdkBilling, make_stripe_client
from chartwise_usage.bootstrap import Usage, bootstrap, connect_redis
from chartwise_usage.maintenance import MaintenanceJobs, MaintenancePayload, schedule_plan
from chartwise_usage.schedule_registration import RpcScheduler, ScheduleRegistration
from chartwise_usage.settings import Settings
from chartwise_usage.storage import INDEXES

# Left to right: the events usage acts on first; any other event of the stream falls back to the base type.
AnalysisLifecycle = Annotated[
    AnalysisCompleted | AnalysisFailed | AnalysisCancelled | AnalysisEvent, Field(union_mode="left_to_right")
]
IdentityLifecycle = Annotated[UserRegistered | IdentityEvent, Field(union_mode="left_to_right")]


@dataclass(frozen=True, slots=True)
class UsageService:
    """The service's app and the parts its tests look into."""

    app: AsgiFastStream
    usage: Usage
    registration: ScheduleRegistration | None
    worker: Worker[MaintenancePayload] | None


def build_app(settings: Settings) -> AsgiFastStream:
    return compose(settings).app


def compose(settings: Settings) -> UsageService:
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

    async def close_redis() -> None:
        await redis.aclose()

    after_startup: list[Callable[[], Awaitable[None]]] = []
    on_shutdown: list[Callable[[], Awaitable[None]]] = []
    registration = worker = None
    if settings.schedule_recurring_work:
        worker = maintenance_worker(settings, usage)
        registration = ScheduleRegistration(
            RpcScheduler(runtime.broker, timeout_s=settings.rpc_timeout_s),
            schedule_plan(
                expiry_interval_s=settings.expiry_sweep_interval_s,
                reconcile_interval_s=settings.stripe_reconcile_interval_s,
                stripe_configured=billing is not None,
            ),
            retry_initial_s=settings.schedule_retry_initial_s,
            retry_max_s=settings.schedule_retry_max_s,
        )
        hooks = worker_hooks(worker, drain_timeout_s=settings.shutdown_timeout_s)
        # The registration sends requests through the broker, so it starts after it and stops first.
        after_startup += [*hooks.after_startup, registration.start]
        on_shutdown += [registration.stop, *hooks.on_shutdown]

    app = runtime.app(
        description="Meters analyses against plans, reserves quota, keeps Stripe plan state.",
        after_startup=after_startup,
        on_shutdown=[*on_shutdown, close_redis],
    )
    return UsageService(app=app, usage=usage, registration=registration, worker=worker)


def maintenance_worker(settings: Settings, usage: Usage) -> Worker[MaintenancePayload]:
    """The worker of `Queues.USAGE_MAINTENANCE`: one job at a time is plenty for two light, idempotent jobs."""
    reconcile = None if usage.billing is None else functools.partial(usage.stripe_sync.reconcile, usage.billing)
    jobs = MaintenanceJobs(release_expired=usage.quota.release_expired, reconcile=reconcile)
    return Worker(
        Queues.USAGE_MAINTENANCE,
        jobs.handle,
        payload_type=MaintenancePayload,
        redis_url=settings.redis_url,
        consumer=settings.consumer_name,
        concurrency=1,
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
