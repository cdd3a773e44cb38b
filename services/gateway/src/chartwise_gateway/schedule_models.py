"""The public shapes of `/v1/schedules`: what a user sends to schedule an analysis, and what they read back."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chartwise_contracts.analysis_api import MAX_CHARTS, AnalysisMetadata, ScheduledAnalysisJob
from chartwise_contracts.scheduler import ScheduleView
from chartwise_gateway.analysis_intake import AnalysisMetadataIn

ScheduleName = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
HttpsUrl = Annotated[str, Field(min_length=9, max_length=2048, pattern=r"^https://[^\s]+$")]


class ScheduleIn(BaseModel):
    """A recurring analysis: these https charts, analysed at every slot of a cron pattern in a time zone."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    chart_urls: list[HttpsUrl] = Field(alias="chartUrls", min_length=1, max_length=MAX_CHARTS)
    metadata: AnalysisMetadataIn = Field(default_factory=AnalysisMetadataIn)
    cron: str = Field(
        min_length=1,
        max_length=200,
        description="5 fields (minute first) or 6 fields (second first), e.g. `0 8 * * 1-5`.",
        examples=["0 8 * * 1-5"],
    )
    time_zone: str = Field(default="UTC", alias="timeZone", min_length=1, max_length=64, examples=["Europe/London"])
    analysis_name: str | None = Field(
        default=None, alias="analysisName", min_length=1, max_length=200, description="Name of each analysis made."
    )
    max_runs: int | None = Field(default=None, alias="maxRuns", ge=1, le=1_000_000, description="Ends after this.")
    end_at: AwareDatetime | None = Field(default=None, alias="endAt")

    def job_payload(self, user_id: str, name: str) -> ScheduledAnalysisJob:
        metadata = AnalysisMetadata(strategy_and_criteria=self.metadata.strategy_and_criteria, risk=self.metadata.risk)
        return ScheduledAnalysisJob(
            user_id=user_id,
            chart_urls=self.chart_urls,
            metadata=metadata,
            name=self.analysis_name,
            schedule_name=name,
        )


class ScheduleCreate(ScheduleIn):
    """`POST /v1/schedules`: as `PUT /v1/schedules/{name}`, with the name in the body or chosen for you."""

    name: ScheduleName | None = None


class ScheduleOut(BaseModel):
    name: str
    chart_urls: list[str]
    metadata: AnalysisMetadata
    analysis_name: str | None
    cron: str
    time_zone: str
    max_runs: int | None
    end_at: AwareDatetime | None
    next_run_at: AwareDatetime | None = Field(description="null once the schedule has ended.")
    runs: int = Field(description="Slots fired so far.")
    ended: bool

    @classmethod
    def of(cls, view: ScheduleView, *, name: str) -> ScheduleOut:
        job = ScheduledAnalysisJob.model_validate(view.template.payload)
        return cls(
            name=name,
            chart_urls=job.chart_urls,
            metadata=job.metadata,
            analysis_name=job.name,
            cron=view.cron or "",
            time_zone=view.tz,
            max_runs=view.limit,
            end_at=view.end_at,
            next_run_at=view.next_run_at,
            runs=view.runs,
            ended=view.ended,
        )


class ScheduleList(BaseModel):
    items: list[ScheduleOut]
    total: int = Field(description="The caller's schedules in all.")
    offset: int
    limit: int
