"""The stored analysis (collection `ChartAnalysis`) and the views of it that leave the service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chartwise_contracts.analysis_api import (
    AnalysisMetadata,
    AnalysisResult,
    AnalysisStatus,
    AnalysisView,
    ChartView,
    SharedAnalysisView,
    Timings,
    TokenUsage,
)

FORMAT_VERSION = 2
"""1 was the original product's markdown-only output; 2 is the structured result."""

UNFINISHED = (AnalysisStatus.QUEUED.value, AnalysisStatus.PROCESSING.value)


class StoredChart(BaseModel):
    """One chart: where it came from and, once read, where its bytes are kept."""

    model_config = ConfigDict(extra="ignore")

    blob_key: str | None = None
    url: str | None = None
    source_url: str | None = Field(default=None, description="The https URL it was fetched from, if any.")
    timeframe: str | None = None
    content_type: str | None = None
    sha256: str | None = None


class ChartAnalysis(BaseModel):
    """A `ChartAnalysis` document; `_id` is the analysis id, so a redelivered request inserts nothing."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, use_enum_values=True)

    id: str = Field(alias="_id")
    user_id: str
    name: str
    status: AnalysisStatus
    charts: list[StoredChart]
    metadata: AnalysisMetadata
    risk_band: Literal["low", "medium", "high"] | None = None
    format_version: int = FORMAT_VERSION
    correlation_id: str = ""
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    attempts: int = 0
    provider: str | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    timings: Timings | None = None
    result: AnalysisResult | None = None
    error: str | None = None
    share_token: str | None = None
    shared_at: datetime | None = None

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="python")

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED


def chart_views(analysis: ChartAnalysis) -> list[ChartView]:
    return [
        ChartView(url=c.url or c.source_url, blob_key=c.blob_key, timeframe=c.timeframe, content_type=c.content_type)
        for c in analysis.charts
    ]


def owner_view(analysis: ChartAnalysis) -> AnalysisView:
    return AnalysisView(
        analysis_id=analysis.id,
        name=analysis.name,
        status=analysis.status,
        charts=chart_views(analysis),
        metadata=analysis.metadata,
        risk_band=analysis.risk_band,
        result=analysis.result,
        model=analysis.model,
        usage=analysis.usage,
        timings=analysis.timings,
        error=analysis.error,
        attempts=analysis.attempts,
        shared=analysis.share_token is not None,
        created_at=analysis.created_at,
        updated_at=analysis.updated_at,
        completed_at=analysis.completed_at,
    )


def shared_view(analysis: ChartAnalysis, result: AnalysisResult) -> SharedAnalysisView:
    """What a share link shows: the analysis and its charts, nothing that identifies the owner."""
    return SharedAnalysisView(
        name=analysis.name,
        charts=chart_views(analysis),
        metadata=analysis.metadata,
        risk_band=analysis.risk_band,
        result=result,
        created_at=analysis.created_at,
        completed_at=analysis.completed_at,
    )
