"""The vision provider port: charts and instructions in, a validated structured analysis out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chartwise_contracts.analysis_api import AnalysisResult, TokenUsage


@dataclass(frozen=True, slots=True)
class ChartImage:
    data: bytes
    content_type: str
    timeframe: str | None = None


@dataclass(frozen=True, slots=True)
class VisionRequest:
    system_prompt: str
    user_prompt: str
    images: tuple[ChartImage, ...]


@dataclass(frozen=True, slots=True)
class VisionAnswer:
    result: AnalysisResult
    model: str
    usage: TokenUsage


class VisionProvider(Protocol):
    """Raises ProviderBusy (worth retrying), ProviderRefused or ProviderNotAvailable (not)."""

    @property
    def name(self) -> str: ...

    async def analyse(self, request: VisionRequest) -> VisionAnswer: ...
