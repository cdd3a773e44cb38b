"""The vision port on OpenAI chat completions with structured output, through the official async SDK.

The base URL is configurable, so any OpenAI-compatible server works. The SDK's own retries are off:
the worker retries a busy provider with backoff across runs, where the rate limit is shared.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

import openai
from openai import AsyncOpenAI
from pydantic import ValidationError

from chartwise_analysis.answer import ChartAnswer, to_result
from chartwise_analysis.errors import ProviderBusy, ProviderRefused
from chartwise_analysis.vision import ChartImage, VisionAnswer, VisionRequest
from chartwise_contracts.analysis_api import TokenUsage

SERVER_ERROR = 500


@dataclass(frozen=True, slots=True)
class OpenAIOptions:
    model: str = "gpt-4o"
    max_tokens: int = 2_000
    temperature: float = 0.0
    image_detail: Literal["high", "low", "auto"] = "high"


def data_url(image: ChartImage) -> str:
    """The image inline as a data URL: blob URLs (file://, private CDNs) are not reachable by the provider."""
    return f"data:{image.content_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def _messages(request: VisionRequest, detail: str) -> list[Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": request.user_prompt}]
    for image in request.images:
        if image.timeframe:
            content.append({"type": "text", "text": f"Chart timeframe: {image.timeframe}"})
        content.append({"type": "image_url", "image_url": {"url": data_url(image), "detail": detail}})
    return [{"role": "system", "content": request.system_prompt}, {"role": "user", "content": content}]


class OpenAIVisionProvider:
    name = "openai"

    def __init__(self, client: AsyncOpenAI, options: OpenAIOptions) -> None:
        self._client = client
        self._options = options

    async def analyse(self, request: VisionRequest) -> VisionAnswer:
        try:
            completion = await self._client.chat.completions.parse(
                model=self._options.model,
                messages=_messages(request, self._options.image_detail),
                response_format=ChartAnswer,
                temperature=self._options.temperature,
                max_tokens=self._options.max_tokens,
            )
        except (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError) as error:
            raise ProviderBusy(f"vision provider busy: {type(error).__name__}: {error}") from error
        except openai.APIStatusError as error:
            if error.status_code >= SERVER_ERROR:
                raise ProviderBusy(f"vision provider failed: {error.status_code}") from error
            raise ProviderRefused(f"vision provider refused the request: {error.status_code} {error}") from error
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as error:
            raise ProviderRefused(f"the model's answer was cut short: {type(error).__name__}") from error
        except (ValidationError, ValueError) as error:
            raise ProviderRefused(f"the model's answer does not match the schema: {error}") from error
        message = completion.choices[0].message if completion.choices else None
        if message is None or message.refusal:
            refusal = message.refusal if message is not None else "no answer"
            raise ProviderRefused(f"the model refused: {refusal}")
        if message.parsed is None:
            raise ProviderRefused("the model's answer was empty")
        usage = completion.usage
        tokens = TokenUsage(
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            total_tokens=usage.total_tokens if usage else 0,
        )
        return VisionAnswer(
            result=to_result(message.parsed), model=completion.model or self._options.model, usage=tokens
        )
