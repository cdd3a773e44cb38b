"""A scheduled run: one analysis per job id, and a plan or quota refusal completes the run as skipped."""

from __future__ import annotations

from chartwise_analysis.intake import JobPolicy
from chartwise_analysis.record import ChartAnalysis
from chartwise_analysis.scheduled import (
    QUEUED,
    SKIPPED_PLAN,
    SKIPPED_QUOTA,
    ScheduledDeps,
    run_scheduled_analysis,
    scheduled_analysis_id,
)
from chartwise_contracts import utcnow
from chartwise_contracts.analysis_api import ScheduledAnalysisJob
from chartwise_contracts.scheduler import EnqueueJob
from chartwise_contracts.usage import GetPlan, PlanDetails, PlanSource, QuotaReserved, ReserveQuota
from chartwise_runtime.errors import QuotaExceeded

URL = "https://charts.example.com/a.png"


class FakeUsage:
    def __init__(self, *, max_charts: int = 1, deny: bool = False) -> None:
        self.max_charts = max_charts
        self.deny = deny
        self.reserved: list[str] = []

    async def plan(self, query: GetPlan) -> PlanDetails:
        return query.cause(
            PlanDetails,
            user_id=query.user_id,
            plan="free",
            source=PlanSource.FREE,
            daily_limit=None,
            monthly_limit=6,
            total_limit=6,
            max_charts_per_analysis=self.max_charts,
            time_zone="UTC",
        )

    async def reserve(self, command: ReserveQuota) -> QuotaReserved:
        if self.deny:
            raise QuotaExceeded("monthly limit reached", details={"window": "month", "limit": 6, "used": 6})
        self.reserved.append(command.analysis_id)
        return command.cause(
            QuotaReserved,
            analysis_id=command.analysis_id,
            user_id=command.user_id,
            units=command.units,
            plan="free",
            max_charts_per_analysis=self.max_charts,
            expires_at=utcnow(),
        )


class FakeStore:
    def __init__(self) -> None:
        self.analyses: dict[str, ChartAnalysis] = {}

    async def insert(self, analysis: ChartAnalysis) -> bool:
        created = analysis.id not in self.analyses
        self.analyses.setdefault(analysis.id, analysis)
        return created


class FakeJobs:
    def __init__(self) -> None:
        self.enqueued: list[EnqueueJob] = []

    async def enqueue(self, command: EnqueueJob) -> None:
        self.enqueued.append(command)


def deps(usage: FakeUsage) -> tuple[ScheduledDeps, FakeStore, FakeJobs]:
    store, jobs = FakeStore(), FakeJobs()
    built = ScheduledDeps(store=store, jobs=jobs, usage=usage, clock=utcnow, policy=JobPolicy())  # type: ignore[arg-type]
    return built, store, jobs


def payload(*urls: str) -> ScheduledAnalysisJob:
    return ScheduledAnalysisJob(user_id="usr_1", chart_urls=list(urls or (URL,)), name="Mornings")


async def test_a_retried_run_makes_one_analysis_with_an_id_from_the_job_id() -> None:
    usage = FakeUsage()
    built, store, jobs = deps(usage)

    first = await run_scheduled_analysis(payload(), job_id="sched:user:usr_1:m:1000", correlation_id="", deps=built)
    again = await run_scheduled_analysis(payload(), job_id="sched:user:usr_1:m:1000", correlation_id="", deps=built)

    analysis_id = scheduled_analysis_id("sched:user:usr_1:m:1000")
    assert first == again == {"outcome": QUEUED, "analysis_id": analysis_id}
    assert list(store.analyses) == [analysis_id]
    assert store.analyses[analysis_id].charts[0].source_url == URL
    assert store.analyses[analysis_id].name == "Mornings"
    assert {c.job_id for c in jobs.enqueued} == {analysis_id}
    assert usage.reserved == [analysis_id, analysis_id]
    assert scheduled_analysis_id("sched:user:usr_1:m:2000") != analysis_id


async def test_a_quota_denial_completes_the_run_as_skipped_without_an_analysis() -> None:
    built, store, jobs = deps(FakeUsage(deny=True))

    outcome = await run_scheduled_analysis(payload(), job_id="j1", correlation_id="", deps=built)

    assert outcome["outcome"] == SKIPPED_QUOTA
    assert outcome["reason"] == "monthly limit reached"
    assert store.analyses == {}
    assert jobs.enqueued == []


async def test_more_charts_than_the_plan_allows_skips_the_run_before_reserving() -> None:
    usage = FakeUsage(max_charts=1)
    built, store, _ = deps(usage)

    outcome = await run_scheduled_analysis(payload(URL, URL), job_id="j1", correlation_id="", deps=built)

    assert outcome["outcome"] == SKIPPED_PLAN
    assert usage.reserved == []
    assert store.analyses == {}
