"""What the gateway and the analysis service exchange: the analysis request, its queries and its public views.

`RequestAnalysis` travels on `Streams.ANALYSIS_COMMANDS`; every other operation is request/reply on the
subjects of `AnalysisRpc`. Each request names its owner in `user_id` (set by the gateway from the
authenticated identity); another user's analysis answers `not_found`. The lifecycle events are in
`chartwise_contracts.analysis`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chartwise_contracts.messages import Command, Query, Reply
from chartwise_contracts.streams import rpc_subject

ANALYSIS_SERVICE = "analysis"
MAX_CHARTS = 10
MAX_STRATEGY_CHARS = 500
MAX_PAGE_SIZE = 100

SCHEDULED_ANALYSIS_QUEUE = "scheduled-analysis"
"""The queue of recurring analyses: each job, enqueued by a schedule, starts one analysis of its charts."""
SCHEDULED_ANALYSIS_JOB = "scheduled-analysis"

UserId = Annotated[str, Field(min_length=1, max_length=128)]
AnalysisId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
AnalysisName = Annotated[str, Field(min_length=1, max_length=200)]
ShareToken = Annotated[str, Field(min_length=16, max_length=128)]


class AnalysisRpc:
    """The request/reply subjects the analysis service serves."""

    GET = rpc_subject(ANALYSIS_SERVICE, "get")
    LIST = rpc_subject(ANALYSIS_SERVICE, "list")
    RENAME = rpc_subject(ANALYSIS_SERVICE, "rename")
    DELETE = rpc_subject(ANALYSIS_SERVICE, "delete")
    SHARE = rpc_subject(ANALYSIS_SERVICE, "share")
    REVOKE_SHARE = rpc_subject(ANALYSIS_SERVICE, "revoke-share")
    GET_SHARED = rpc_subject(ANALYSIS_SERVICE, "get-shared")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ChartReference(_Model):
    """One chart image: a blob the gateway already stored, or an https URL the service fetches itself."""

    blob_key: str | None = Field(default=None, min_length=1, max_length=300)
    url: str | None = Field(default=None, min_length=9, max_length=2048, pattern=r"^https://")
    timeframe: str | None = Field(default=None, min_length=1, max_length=20, description="e.g. 4h, 1D, 1W.")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.blob_key is None) == (self.url is None):
            raise ValueError("give exactly one of blob_key and url")
        return self


class AnalysisMetadata(_Model):
    strategy_and_criteria: str = Field(default="", max_length=MAX_STRATEGY_CHARS)
    risk: int | None = Field(default=None, ge=0, le=100, description="0 or absent: not given.")


class RequestAnalysis(Command):
    """Analyse these charts for this user; idempotent on `analysis_id`."""

    analysis_id: AnalysisId
    user_id: UserId
    charts: list[ChartReference] = Field(min_length=1, max_length=MAX_CHARTS)
    metadata: AnalysisMetadata = Field(default_factory=AnalysisMetadata)
    name: AnalysisName | None = None
    delay_ms: int | None = Field(default=None, ge=0, le=86_400_000, description="Start no earlier than this.")


ChartUrl = Annotated[str, Field(min_length=9, max_length=2048, pattern=r"^https://")]


class ScheduledAnalysisJob(_Model):
    """The payload of a `scheduled-analysis` job: whose analysis, of which https charts, with what metadata."""

    user_id: UserId
    chart_urls: list[ChartUrl] = Field(min_length=1, max_length=MAX_CHARTS)
    metadata: AnalysisMetadata = Field(default_factory=AnalysisMetadata)
    name: AnalysisName | None = None
    schedule_name: str | None = Field(default=None, max_length=100, description="The owner's name of the schedule.")


class AnalysisStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Bias(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class PriceLevel(_Model):
    price: float = Field(ge=0)
    note: str = Field(default="", max_length=500)


class TimeframeNote(_Model):
    timeframe: str = Field(max_length=40)
    bias: Bias
    notes: str = Field(max_length=2000)


class TradePlan(_Model):
    """The plan of a setup that matches the trader's strategy; only ever present when there is one."""

    direction: Literal["long", "short"]
    entry: float = Field(ge=0)
    entry_trigger: str = Field(max_length=1000)
    stop_loss: float = Field(ge=0)
    take_profits: list[float] = Field(min_length=1, max_length=5)
    risk_reward: float = Field(ge=0)
    expected_duration: str = Field(max_length=200)
    break_even_rule: str = Field(default="", max_length=500)


class AnalysisResult(_Model):
    """The structured answer of the vision model, validated; `markdown` renders all of it for reading."""

    is_chart: bool
    not_chart_reason: str = Field(default="", max_length=1000)
    bias: Bias | None = None
    bias_reasons: list[str] = Field(default_factory=list, max_length=20)
    support_levels: list[PriceLevel] = Field(default_factory=list, max_length=20)
    resistance_levels: list[PriceLevel] = Field(default_factory=list, max_length=20)
    patterns: list[str] = Field(default_factory=list, max_length=30)
    indicators: list[str] = Field(default_factory=list, max_length=30)
    timeframes: list[TimeframeNote] = Field(default_factory=list, max_length=MAX_CHARTS)
    dominant_timeframe: str | None = Field(default=None, max_length=40)
    setup_found: bool = False
    setup_assessment: str = Field(default="", max_length=4000)
    trade_plan: TradePlan | None = None
    reevaluate_if: list[str] = Field(default_factory=list, max_length=20)
    confidence: float = Field(ge=0, le=1)
    markdown: str = Field(min_length=1, max_length=40_000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.is_chart and self.bias is None:
            raise ValueError("a chart's analysis states a bias")
        if not self.is_chart and (self.setup_found or self.trade_plan is not None):
            raise ValueError("no setup can be found in a picture that is not a chart")
        if self.trade_plan is not None and not self.setup_found:
            raise ValueError("a trade plan is given only for a setup that matches the strategy")
        if self.setup_found and self.trade_plan is None:
            raise ValueError("a matching setup comes with its trade plan")
        return self


class ChartView(_Model):
    url: str | None = None
    blob_key: str | None = None
    timeframe: str | None = None
    content_type: str | None = None


class TokenUsage(_Model):
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)


class Timings(_Model):
    """Milliseconds spent in each stage of the run that completed."""

    images_ms: int = Field(ge=0)
    model_ms: int = Field(ge=0)
    total_ms: int = Field(ge=0)
    queued_ms: int = Field(default=0, ge=0, description="From the request to the start of that run.")


class AnalysisView(_Model):
    """An analysis as its owner sees it."""

    analysis_id: str
    name: str
    status: AnalysisStatus
    charts: list[ChartView]
    metadata: AnalysisMetadata
    risk_band: Literal["low", "medium", "high"] | None = None
    result: AnalysisResult | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    timings: Timings | None = None
    error: str | None = None
    attempts: int = Field(default=0, ge=0)
    shared: bool = False
    created_at: AwareDatetime
    updated_at: AwareDatetime
    completed_at: AwareDatetime | None = None


class SharedAnalysisView(_Model):
    """A completed analysis as anyone holding its share token sees it: nothing about its owner."""

    name: str
    charts: list[ChartView]
    metadata: AnalysisMetadata
    risk_band: Literal["low", "medium", "high"] | None = None
    result: AnalysisResult
    created_at: AwareDatetime
    completed_at: AwareDatetime | None = None


class GetAnalysis(Query):
    analysis_id: AnalysisId
    user_id: UserId


class ListAnalyses(Query):
    """The user's analyses, newest first; pass the previous page's `next_cursor` to go on."""

    user_id: UserId
    cursor: str | None = Field(default=None, min_length=1, max_length=500)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class RenameAnalysis(Command):
    analysis_id: AnalysisId
    user_id: UserId
    name: AnalysisName


class DeleteAnalysis(Command):
    """Removes the analysis; one not finished yet is cancelled (its quota reservation released)."""

    analysis_id: AnalysisId
    user_id: UserId


class ShareAnalysis(Command):
    """Gives a completed analysis a share token; sharing again returns the same token."""

    analysis_id: AnalysisId
    user_id: UserId


class RevokeShare(Command):
    analysis_id: AnalysisId
    user_id: UserId


class GetSharedAnalysis(Query):
    token: ShareToken


class AnalysisReply(Reply):
    analysis: AnalysisView


class AnalysisPage(Reply):
    items: list[AnalysisView]
    next_cursor: str | None = None


class AnalysisDeleted(Reply):
    analysis_id: str
    cancelled: bool = Field(default=False, description="True when it was still queued or processing.")


class AnalysisShared(Reply):
    analysis_id: str
    token: str
    shared_at: AwareDatetime


class AnalysisShareRevoked(Reply):
    analysis_id: str
    revoked: bool = Field(description="False when the analysis had no share token.")


class SharedAnalysisReply(Reply):
    analysis: SharedAnalysisView
