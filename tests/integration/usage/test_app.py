"""The usage service as deployed: request/reply operations and event consumers over real Redis streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts import Message, Reply, Streams
from chartwise_contracts.analysis import AnalysisCompleted, AnalysisEvent, AnalysisFailed
from chartwise_contracts.identity import UserRegistered
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import (
    USAGE_SERVICE,
    AdminUsageOverview,
    GetPlan,
    GetUsage,
    HandleStripeWebhook,
    PlanDetails,
    QuotaReserved,
    QuotaWindow,
    ReserveQuota,
    SetPlan,
    StripeWebhookHandled,
    UsageOverview,
    UsageReport,
)
from chartwise_devtools.asgi import running
from chartwise_devtools.waiting import eventually
from chartwise_runtime.errors import DomainError, InvalidInput, QuotaExceeded, ServiceUnavailable
from chartwise_runtime.mongo import Database
from chartwise_runtime.rpc import publish, request
from chartwise_usage.app import CONSUMED_STREAMS, RPC_OPERATIONS, build_app
from chartwise_usage.settings import Settings
from tests.integration.usage.conftest import WEBHOOK_SECRET
from tests.integration.usage.fake_stripe import event, sign, subscription


@pytest.fixture
async def client(redis_url: str, mongo_url: str, mongo_database_name: str, redis: Redis) -> AsyncIterator[RedisBroker]:
    settings = Settings(
        redis_url=redis_url,
        mongo_url=mongo_url,
        mongo_database=mongo_database_name,
        environment="test",
        run_periodic_tasks=False,
        stripe_webhook_secret=WEBHOOK_SECRET,
        consumer_name="usage-test",
    )
    async with running(build_app(settings)):
        await eventually(lambda: all_subscribers_reading(redis))
        broker = RedisBroker(redis_url)
        async with broker:
            await broker.start()
            yield broker


R = TypeVar("R", bound=Reply)


async def all_subscribers_reading(redis: Redis) -> bool:
    """Every stream the service serves has a subscriber blocked reading it (a consumer appears only later)."""
    expected = len(CONSUMED_STREAMS) + len(RPC_OPERATIONS)
    return bool((await redis.info("clients"))["blocked_clients"] >= expected)


async def call(broker: RedisBroker, message: Message, operation: str, reply_type: type[R]) -> R:
    return await request(
        broker, message, subject=rpc_subject(USAGE_SERVICE, operation), reply_type=reply_type, timeout=5
    )


async def test_reserve_quota_answers_with_the_plan_and_denies_past_the_limit(client: RedisBroker) -> None:
    replies = [
        await call(client, ReserveQuota.new(user_id="u1", analysis_id=f"a{i}"), "ReserveQuota", QuotaReserved)
        for i in range(6)
    ]

    with pytest.raises(QuotaExceeded) as denied:
        await call(client, ReserveQuota.new(user_id="u1", analysis_id="a6"), "ReserveQuota", QuotaReserved)

    assert {(r.plan, r.max_charts_per_analysis) for r in replies} == {("free", 1)}
    assert denied.value.details["window"] == "monthly"
    assert (denied.value.details["limit"], denied.value.details["used"]) == (6, 6)


async def test_completion_events_are_counted_once_and_other_events_pass_by(client: RedisBroker) -> None:
    await call(client, ReserveQuota.new(user_id="u1", analysis_id="a1"), "ReserveQuota", QuotaReserved)
    await call(client, ReserveQuota.new(user_id="u1", analysis_id="a2"), "ReserveQuota", QuotaReserved)
    completed = AnalysisCompleted.new(analysis_id="a1", user_id="u1", completed_at=datetime.now(UTC))
    progress = AnalysisEvent.new(type="analysis.progress", analysis_id="a2", user_id="u1")
    failed = AnalysisFailed.new(
        analysis_id="a2", user_id="u1", reason="vision model refused", failed_at=datetime.now(UTC)
    )
    stream = Streams.ANALYSIS_EVENTS

    for message in (completed, progress, completed, failed):
        await publish(client, message, stream=stream.name, maxlen=stream.maxlen)

    async def settled() -> bool:
        report = await call(client, GetUsage.new(user_id="u1"), "GetUsage", UsageReport)
        total = next(w for w in report.windows if w.window is QuotaWindow.TOTAL)
        return (total.used, total.reserved) == (1, 0)

    await eventually(settled)


async def test_registration_creates_the_billing_account(client: RedisBroker) -> None:
    registered = UserRegistered.new(user_id="u7", time_zone="Asia/Tokyo", registered_at=datetime.now(UTC))
    stream = Streams.IDENTITY_EVENTS

    await publish(client, registered, stream=stream.name, maxlen=stream.maxlen)

    async def has_zone() -> bool:
        details = await call(client, GetPlan.new(user_id="u7"), "GetPlan", PlanDetails)
        return details.time_zone == "Asia/Tokyo"

    await eventually(has_zone)


async def test_admin_sets_a_plan_and_sees_usage_across_users(client: RedisBroker) -> None:
    details = await call(client, SetPlan.new(user_id="u2", plan="pro"), "SetPlan", PlanDetails)
    await call(client, ReserveQuota.new(user_id="u1", analysis_id="a1"), "ReserveQuota", QuotaReserved)
    reserved = await call(client, ReserveQuota.new(user_id="u2", analysis_id="a2"), "ReserveQuota", QuotaReserved)

    overview = await call(client, AdminUsageOverview.new(limit=10), "AdminUsageOverview", UsageOverview)

    assert (details.plan, details.monthly_limit, details.max_charts_per_analysis) == ("pro", 500, 3)
    assert reserved.max_charts_per_analysis == 3
    assert [(u.user_id, u.plan) for u in overview.users] == [("u1", "free"), ("u2", "pro")]


async def test_a_forged_stripe_webhook_is_refused(client: RedisBroker) -> None:
    forged = HandleStripeWebhook.new(payload='{"id": "evt_1", "object": "event"}', signature="t=1,v1=deadbeef")

    with pytest.raises(InvalidInput):
        await call(client, forged, "HandleStripeWebhook", UsageReport)


async def test_a_signed_webhook_missing_a_field_gets_an_invalid_input_reply_and_stores_nothing(
    client: RedisBroker, mongo_db: Database
) -> None:
    body = json.loads(event("evt_1", "customer.subscription.created", subscription("sub_1", "cus_1"), created=1))
    del body["created"]
    payload = json.dumps(body)
    command = HandleStripeWebhook.new(payload=payload, signature=sign(payload, WEBHOOK_SECRET))

    with pytest.raises(InvalidInput) as refused:
        await call(client, command, "HandleStripeWebhook", StripeWebhookHandled)

    assert refused.value.details["errors"] == [{"field": "created", "problem": "Field required"}]
    assert await mongo_db.stripe_events.count_documents({}) == 0
    assert await mongo_db.subscriptions.count_documents({}) == 0


async def test_an_unforeseen_failure_in_a_handler_is_answered_with_an_error_reply(
    client: RedisBroker, mongo_db: Database
) -> None:
    # A stored account the service cannot read: its handler fails with an exception no one foresaw.
    await mongo_db.accounts.insert_one({"_id": "u1", "time_zone": 42})

    with pytest.raises(DomainError) as failed:
        await call(client, GetPlan.new(user_id="u1"), "GetPlan", PlanDetails)

    assert not isinstance(failed.value, ServiceUnavailable)  # an answer, not a timeout
    assert failed.value.code == "internal_error"
