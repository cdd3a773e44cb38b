"""Lifecycle events of a chart analysis, published by the analysis service on `Streams.ANALYSIS_EVENTS`.

Every event carries a `type` tag, so a consumer can recognise the ones it handles and ignore the rest
(validate against `AnalysisEvent` as the fallback of a left-to-right union).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from chartwise_contracts.messages import Event


class AnalysisEvent(Event):
    """Any analysis event; consumers fall back to this for event types they do not handle."""

    type: str = Field(min_length=1, max_length=64)
    analysis_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=128)


class AnalysisCompleted(AnalysisEvent):
    """The analysis produced its result; its quota reservation becomes usage."""

    type: Literal["analysis.completed"] = "analysis.completed"
    completed_at: AwareDatetime


class AnalysisFailed(AnalysisEvent):
    """The analysis gave up for good; its quota reservation is released."""

    type: Literal["analysis.failed"] = "analysis.failed"
    reason: str = Field(min_length=1, max_length=2000)
    failed_at: AwareDatetime


class AnalysisCancelled(AnalysisEvent):
    """The analysis was cancelled before it completed; its quota reservation is released."""

    type: Literal["analysis.cancelled"] = "analysis.cancelled"
    reason: str = Field(default="", max_length=2000)
    cancelled_at: AwareDatetime
