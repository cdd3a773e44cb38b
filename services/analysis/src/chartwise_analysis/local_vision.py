"""The offline chart reader's place behind the vision port; it refuses until the reader itself exists."""

from __future__ import annotations

from chartwise_analysis.errors import ProviderNotAvailable
from chartwise_analysis.vision import VisionAnswer, VisionRequest


class LocalVisionProvider:
    """Refuses every request plainly, so nobody mistakes a placeholder for an analysis."""

    name = "local"

    async def analyse(self, request: VisionRequest) -> VisionAnswer:
        raise ProviderNotAvailable(
            "the offline chart reader (VISION_PROVIDER=local) is not part of this build yet; "
            "set VISION_PROVIDER=openai with an OpenAI-compatible endpoint"
        )
