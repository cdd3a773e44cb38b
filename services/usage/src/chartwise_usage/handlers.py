"""Handlers of the usage service's requests and events: the message first, the wired service after."""

from __future__ import annotations

from chartwise_contracts.analysis import AnalysisCancelled, AnalysisCompleted, AnalysisEvent, AnalysisFailed
from chartwise_contracts.identity import IdentityEvent, UserRegistered
from chartwise_contracts.messages import Message
from chartwise_contracts.usage import (
    AdminUsageOverview,
    GetPlan,
    GetUsage,
    HandleStripeWebhook,
    PlanDetails,
    QuotaReserved,
    QuotaWindow,
    ReserveQuota,
    SetPlan,
    SetTimeZone,
    StripeWebhookHandled,
    UsageOverview,
    UsageReport,
    UserUsageSummary,
)
from chartwise_runtime.errors import InvalidInput, ServiceUnavailable
from chartwise_runtime.logging import get_logger
from chartwise_usage.billing import StripeUnavailable, verified_event
from chartwise_usage.bootstrap import Usage
from chartwise_usage.windows import zone

log = get_logger(__name__)


async def reserve_quota(command: ReserveQuota, usage: Usage) -> QuotaReserved:
    granted = await usage.quota.reserve(user_id=command.user_id, analysis_id=command.analysis_id, units=command.units)
    return command.cause(
        QuotaReserved,
        analysis_id=command.analysis_id,
        user_id=command.user_id,
        units=granted.reservation.units,
        plan=granted.plan,
        max_charts_per_analysis=granted.max_charts_per_analysis,
        expires_at=granted.expires_at,
    )


async def get_usage(query: GetUsage, usage: Usage) -> UsageReport:
    plan = await usage.directory.current(query.user_id)
    windows = await usage.quota.usage(query.user_id, plan)
    return query.cause(
        UsageReport, user_id=query.user_id, plan=plan.tier.name, windows=windows, as_of=usage.clock.now()
    )


async def get_plan(query: GetPlan, usage: Usage) -> PlanDetails:
    return await _plan_details(query, query.user_id, usage)


async def set_plan(command: SetPlan, usage: Usage) -> PlanDetails:
    if command.plan is not None and usage.directory.table.get(command.plan) is None:
        raise InvalidInput(
            f"unknown plan {command.plan!r}", details={"plan": command.plan, "plans": usage.directory.table.names}
        )
    await usage.accounts.set_fields(command.user_id, {"manual_plan": command.plan}, now=usage.clock.now())
    await usage.directory.forget(command.user_id)
    log.info("plan set by an administrator", user_id=command.user_id, plan=command.plan)
    return await _plan_details(command, command.user_id, usage)


async def set_time_zone(command: SetTimeZone, usage: Usage) -> PlanDetails:
    zone(command.time_zone)
    fields = {"time_zone": command.time_zone, "time_zone_chosen": True}
    await usage.accounts.set_fields(command.user_id, fields, now=usage.clock.now())
    await usage.directory.forget(command.user_id)
    return await _plan_details(command, command.user_id, usage)


async def _plan_details(request: Message, user_id: str, usage: Usage) -> PlanDetails:
    plan = await usage.directory.current(user_id)
    subscription = plan.subscription
    return request.cause(
        PlanDetails,
        user_id=user_id,
        plan=plan.tier.name,
        source=plan.source,
        daily_limit=plan.tier.daily,
        monthly_limit=plan.tier.monthly,
        total_limit=plan.tier.total,
        max_charts_per_analysis=plan.tier.max_charts_per_analysis,
        time_zone=plan.time_zone,
        subscription_status=subscription.status if subscription else None,
        current_period_start=subscription.period_start if subscription else None,
        current_period_end=subscription.period_end if subscription else None,
    )


async def admin_usage_overview(query: AdminUsageOverview, usage: Usage) -> UsageOverview:
    accounts = await usage.accounts.page(after=query.after_user_id, limit=query.limit)
    summaries = []
    for account in accounts:
        plan = await usage.directory.for_quota(account.user_id)
        figures = {w.window: w.used for w in await usage.quota.usage(account.user_id, plan)}
        summaries.append(
            UserUsageSummary(
                user_id=account.user_id,
                plan=plan.tier.name,
                source=plan.source,
                daily_used=figures[QuotaWindow.DAILY],
                monthly_used=figures[QuotaWindow.MONTHLY],
                total_used=figures[QuotaWindow.TOTAL],
            )
        )
    next_after = accounts[-1].user_id if len(accounts) == query.limit else None
    return query.cause(UsageOverview, users=summaries, next_after_user_id=next_after)


async def handle_stripe_webhook(command: HandleStripeWebhook, usage: Usage) -> StripeWebhookHandled:
    if not usage.webhook_secret:
        raise ServiceUnavailable("Stripe webhooks are not configured (no STRIPE_WEBHOOK_SECRET)")
    event = verified_event(command.payload, command.signature, usage.webhook_secret)
    result = await usage.stripe_sync.apply_event(event)
    return command.cause(
        StripeWebhookHandled, event_id=result.event_id, event_type=result.event_type, outcome=result.outcome
    )


async def on_analysis_event(event: AnalysisEvent, usage: Usage) -> None:
    """Completion commits the reservation; failure and cancellation release it; other events are not ours."""
    if isinstance(event, AnalysisCompleted):
        outcome = await usage.quota.commit(analysis_id=event.analysis_id, user_id=event.user_id, at=event.completed_at)
    elif isinstance(event, AnalysisFailed | AnalysisCancelled):
        reason = "failed" if isinstance(event, AnalysisFailed) else "cancelled"
        outcome = await usage.quota.release(analysis_id=event.analysis_id, reason=reason)
    else:
        return
    log.info("analysis event applied", analysis_id=event.analysis_id, type=event.type, outcome=outcome)


async def on_identity_event(event: IdentityEvent, usage: Usage) -> None:
    """A registration creates the billing account, and its Stripe customer when Stripe is configured."""
    if not isinstance(event, UserRegistered):
        return
    time_zone = event.time_zone
    if time_zone is not None:
        try:
            zone(time_zone)
        except InvalidInput:
            log.warning("unknown time zone at registration; keeping UTC", time_zone=time_zone)
            time_zone = None
    account = await usage.accounts.register(
        event.user_id, email=event.email, time_zone=time_zone, now=usage.clock.now()
    )
    await usage.directory.forget(event.user_id)
    if usage.billing is None or account.customer_id:
        return
    try:
        customer_id = await usage.billing.create_customer(user_id=event.user_id, email=event.email)
    except StripeUnavailable as error:
        # The account stands without a customer; reconciliation creates it when Stripe answers again.
        log.warning("stripe unavailable: customer creation deferred", user_id=event.user_id, error=str(error))
        return
    await usage.accounts.link_customer(event.user_id, customer_id, now=usage.clock.now())
