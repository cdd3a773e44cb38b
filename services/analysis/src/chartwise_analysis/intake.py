"""Accepting a `RequestAnalysis`: the queued analysis document, then its job on the `chart-analysis` queue."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from chartwise_analysis.clock import Clock
from chartwise_analysis.outbound import JobScheduler
from chartwise_analysis.prompts import risk_band
from chartwise_analysis.record import ChartAnalysis, StoredChart
from chartwise_analysis.repository import AnalysisStore
from chartwise_contracts import Queues
from chartwise_contracts.analysis_api import AnalysisStatus, RequestAnalysis
from chartwise_contracts.jobs import Backoff
from chartwise_contracts.scheduler import EnqueueJob, JobOptions

JOB_NAME = "analyse-charts"


class AnalysisJob(BaseModel):
    """The payload of an analysis job: only the id; images and metadata stay in the document and the blob store."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    analysis_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=128)


@dataclass(frozen=True, slots=True)
class JobPolicy:
    attempts: int = 4
    first_retry_delay_ms: int = 5_000

    def options(self) -> JobOptions:
        return JobOptions(
            attempts=self.attempts,
            backoff=Backoff(kind="exponential", delay_ms=self.first_retry_delay_ms, jitter=0.2),
        )


def default_name(request: RequestAnalysis) -> str:
    strategy = (
        request.metadata.strategy_and_criteria.strip().splitlines()[0]
        if request.metadata.strategy_and_criteria.strip()
        else ""
    )
    label = f"{strategy[:60]} analysis" if strategy else "Chart analysis"
    return f"{label} ({len(request.charts)} charts)" if len(request.charts) > 1 else label


def new_analysis(request: RequestAnalysis, *, clock: Clock) -> ChartAnalysis:
    now = clock()
    return ChartAnalysis(
        id=request.analysis_id,
        user_id=request.user_id,
        name=request.name or default_name(request),
        status=AnalysisStatus.QUEUED,
        charts=[StoredChart(blob_key=c.blob_key, source_url=c.url, timeframe=c.timeframe) for c in request.charts],
        metadata=request.metadata,
        risk_band=risk_band(request.metadata.risk),
        correlation_id=request.meta.correlation_id,
        created_at=now,
        updated_at=now,
    )


async def accept_request(
    request: RequestAnalysis, store: AnalysisStore, jobs: JobScheduler, *, clock: Clock, policy: JobPolicy
) -> bool:
    """Stores the queued analysis and enqueues its job; True when the analysis is new.

    A redelivered request finds the document and enqueues again, which the scheduler ignores for a job id
    it has: so a crash between the two writes loses nothing and duplicates nothing.
    """
    created = await store.insert(new_analysis(request, clock=clock))
    payload = AnalysisJob(analysis_id=request.analysis_id, user_id=request.user_id)
    command = request.cause(
        EnqueueJob,
        queue=Queues.CHART_ANALYSIS,
        name=JOB_NAME,
        job_id=request.analysis_id,
        payload=payload.model_dump(),
        delay_ms=request.delay_ms,
        options=policy.options(),
    )
    await jobs.enqueue(command)
    return created
