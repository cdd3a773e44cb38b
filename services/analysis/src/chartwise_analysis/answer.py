"""The schema the vision model answers in (structured output), and its checked conversion to the result.

Strict structured output needs every field present and no validation keywords the provider may not
support, so this schema carries descriptions only; the contract's `AnalysisResult` then enforces bounds
and consistency (no trade plan without a matching setup, no setup on a picture that is not a chart).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chartwise_analysis.errors import ProviderRefused
from chartwise_contracts.analysis_api import AnalysisResult


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Level(_Strict):
    price: float = Field(description="The price, read from the chart's axis.")
    note: str = Field(description="Why this level matters, in a few words.")


class Timeframe(_Strict):
    timeframe: str = Field(description="The chart's timeframe, e.g. 4h or 1D.")
    bias: Literal["bullish", "bearish", "neutral"]
    notes: str = Field(description="What this timeframe shows.")


class Plan(_Strict):
    direction: Literal["long", "short"]
    entry: float
    entry_trigger: str = Field(description="What must happen before entering.")
    stop_loss: float
    take_profits: list[float] = Field(description="One to three targets, nearest first.")
    risk_reward: float = Field(description="Reward to risk to the first target.")
    expected_duration: str = Field(description="How long the trade is expected to last, e.g. 2-5 days.")
    break_even_rule: str = Field(description="When to move the stop to break-even.")


class ChartAnswer(_Strict):
    """ChartAnalysis: the structured answer requested from the model."""

    is_chart: bool = Field(description="False when the image is not a price chart.")
    not_chart_reason: str = Field(description="Empty for a chart; otherwise what the image is instead.")
    bias: Literal["bullish", "bearish", "neutral"] | None = Field(description="Null only when not a chart.")
    bias_reasons: list[str]
    support_levels: list[Level]
    resistance_levels: list[Level]
    patterns: list[str] = Field(description="Chart patterns visible on the chart.")
    indicators: list[str] = Field(description="Indicators visible on the chart, with what they show.")
    timeframes: list[Timeframe] = Field(description="One entry per chart when several charts are given.")
    dominant_timeframe: str | None = Field(description="For several charts: the one that dominates.")
    setup_found: bool = Field(description="True only when a setup matches the strategy and risk.")
    setup_assessment: str = Field(description="Why a setup does or does not match.")
    trade_plan: Plan | None = Field(description="Only when setup_found is true.")
    reevaluate_if: list[str] = Field(description="Conditions that would change this analysis.")
    confidence: float = Field(description="0 to 1.")
    markdown: str = Field(description="The whole analysis rendered as markdown in the required sections.")


def to_result(answer: ChartAnswer) -> AnalysisResult:
    """The contract's result for a model answer; ProviderRefused when the answer breaks its rules."""
    try:
        return AnalysisResult.model_validate(answer.model_dump())
    except ValidationError as error:
        raise ProviderRefused(f"the model's answer is inconsistent: {_first_problem(error)}") from error


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "answer"
    return f"{where}: {first['msg']}"
