"""Recurring analyses: each `scheduled-analysis` job checks the plan, reserves quota, then is taken in like a request.

A schedule's job carries the owner and the https chart URLs (`ScheduledAnalysisJob`). The analysis id comes
from the job id, so a retried run reserves the same quota and finds the same analysis: one slot never makes
two analyses. From the reservation on, it is exactly the intake of `RequestAnalysis` (`accept_request`); the
charts are fetched, through the SSRF-safe fetcher, into the blob store by the analysis run itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from faststream.redis import RedisBroker

from chartwise_analysis.clock import Clock
from chartwise_analysis.intake import JobPolicy, accept_request
from chartwise_analysis.outbound import JobScheduler
from chartwise_analysis.repository import AnalysisStore
from chartwise_contracts.analysis_api import ChartReference, RequestAnalysis, ScheduledAnalysisJob
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, GetPlan, PlanDetails, QuotaReserved, ReserveQuota
from chartwise_runtime.errors import DomainError, QuotaExceeded, ServiceUnavailable
from chartwise_runtime.logging import get_logger
from chartwise_runtime.rpc import request
from chartwise_runtime.worker import DoNotRetry, JobContext

log = get_logger(__name__)

SKIPPED_QUOTA = "skipped: quota exceeded"
SKIPPED_PLAN = "skipped: too many charts for the plan"
QUEUED = "queued"


def scheduled_analysis_id(job_id: str) -> str:
    """The analysis of one scheduled run; the same for every retry of that run."""
    return f"an_s{hashlib.sha256(job_id.encode()).hexdigest()[:32]}"


class Usage(Protocol):
    """The usage service, as a scheduled run needs it."""

    async def plan(self, query: GetPlan) -> PlanDetails: ...

    async def reserve(self, command: ReserveQuota) -> QuotaReserved: ...


class RpcUsage:
    """The usage service over request/reply; a denial raises QuotaExceeded, silence ServiceUnavailable."""

    def __init__(self, broker: RedisBroker, *, timeout_s: float) -> None:
        self._broker = broker
        self._timeout_s = timeout_s

    async def plan(self, query: GetPlan) -> PlanDetails:
        subject = rpc_subject(USAGE_SERVICE, "GetPlan")
        return await request(self._broker, query, subject=subject, reply_type=PlanDetails, timeout=self._timeout_s)

    async def reserve(self, command: ReserveQuota) -> QuotaReserved:
        subject = rpc_subject(USAGE_SERVICE, "ReserveQuota")
        return await request(self._broker, command, subject=subject, reply_type=QuotaReserved, timeout=self._timeout_s)


@dataclass(frozen=True, slots=True)
class ScheduledDeps:
    store: AnalysisStore
    jobs: JobScheduler
    usage: Usage
    clock: Clock
    policy: JobPolicy


async def run_scheduled_analysis(
    payload: ScheduledAnalysisJob, *, job_id: str, correlation_id: str, deps: ScheduledDeps
) -> dict[str, Any]:
    """Starts the analysis of one scheduled run, or completes the run as skipped when the plan does not allow it."""
    analysis_id = scheduled_analysis_id(job_id)
    user_id = payload.user_id
    plan_query = GetPlan.new(actor=user_id, correlation_id=correlation_id, user_id=user_id)
    plan = await deps.usage.plan(plan_query)
    if len(payload.chart_urls) > plan.max_charts_per_analysis:
        reason = f"the {plan.plan} plan allows {plan.max_charts_per_analysis} chart(s) per analysis"
        log.info("scheduled analysis skipped", job_id=job_id, user_id=user_id, reason=reason)
        return {"outcome": SKIPPED_PLAN, "reason": reason}
    reserve = plan_query.cause(ReserveQuota, actor=user_id, user_id=user_id, analysis_id=analysis_id, units=1)
    try:
        await deps.usage.reserve(reserve)
    except QuotaExceeded as denial:
        log.info("scheduled analysis skipped", job_id=job_id, user_id=user_id, reason=denial.message)
        return {"outcome": SKIPPED_QUOTA, "reason": denial.message, "details": denial.details}
    command = reserve.cause(
        RequestAnalysis,
        actor=user_id,
        analysis_id=analysis_id,
        user_id=user_id,
        charts=[ChartReference(url=url) for url in payload.chart_urls],
        metadata=payload.metadata,
        name=payload.name,
    )
    created = await accept_request(command, deps.store, deps.jobs, clock=deps.clock, policy=deps.policy)
    log.info("scheduled analysis queued", job_id=job_id, analysis_id=analysis_id, created=created)
    return {"outcome": QUEUED, "analysis_id": analysis_id}


def scheduled_analysis_handler(
    deps: ScheduledDeps,
) -> Callable[[ScheduledAnalysisJob, JobContext], Awaitable[dict[str, Any]]]:
    async def handle(payload: ScheduledAnalysisJob, ctx: JobContext) -> dict[str, Any]:
        try:
            return await run_scheduled_analysis(
                payload, job_id=ctx.job_id, correlation_id=ctx.job.correlation_id, deps=deps
            )
        except ServiceUnavailable:
            raise  # usage did not answer: a later attempt may get through
        except DomainError as error:
            # usage refused the request itself (not the quota): another attempt would be refused the same way.
            raise DoNotRetry(f"{error.code}: {error.message}") from error

    return handle
