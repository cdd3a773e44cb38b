"""The prompts carry the strategy and risk band; the result refuses answers that break its rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chartwise_analysis.answer import ChartAnswer, to_result
from chartwise_analysis.errors import ProviderRefused
from chartwise_analysis.images import sniff_image_type
from chartwise_analysis.prompts import risk_band, user_prompt
from chartwise_contracts.analysis_api import AnalysisMetadata, AnalysisResult
from tests.integration.analysis.conftest import chart_answer, not_a_chart_answer


@pytest.mark.parametrize(
    ("risk", "band"),
    [(None, None), (0, None), (1, "low"), (33, "low"), (34, "medium"), (66, "medium"), (67, "high"), (100, "high")],
)
def test_risk_bands_follow_the_original_thresholds(risk: int | None, band: str | None) -> None:
    assert risk_band(risk) == band


def test_one_chart_gets_the_single_prompt_and_several_the_multi_prompt() -> None:
    metadata = AnalysisMetadata(strategy_and_criteria="Mean reversion at the range edges", risk=80)

    single = user_prompt(metadata, ["4h"])
    multi = user_prompt(metadata, ["1W", "1D", None])

    assert single.startswith("Analyse this chart")
    assert '"""Mean reversion at the range edges"""' in single
    assert "Risk tolerance: high" in single
    assert "same asset on different timeframes (1W, 1D, chart 3, timeframe unlabelled)" in multi
    assert "which timeframe dominates" in multi


def test_a_missing_strategy_and_risk_are_said_to_be_missing() -> None:
    prompt = user_prompt(AnalysisMetadata(), [None])

    assert "not given: judge setups on their own merit" in prompt
    assert "not given: assume medium" in prompt


def test_a_consistent_answer_becomes_the_result() -> None:
    result = to_result(ChartAnswer.model_validate(chart_answer()))

    assert result.setup_found is True
    assert result.trade_plan is not None
    assert to_result(ChartAnswer.model_validate(not_a_chart_answer())).is_chart is False


@pytest.mark.parametrize(
    "overrides",
    [
        {"setup_found": False},
        {"trade_plan": None},
        {"bias": None},
        {"confidence": 1.5},
        {"is_chart": False, "bias": None},
    ],
)
def test_an_inconsistent_answer_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ProviderRefused, match="inconsistent"):
        to_result(ChartAnswer.model_validate(chart_answer(**overrides)))


def test_the_model_schema_is_strict_enough_for_structured_output() -> None:
    schema = ChartAnswer.model_json_schema()

    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    with pytest.raises(ValidationError):
        AnalysisResult.model_validate({**chart_answer(), "markdown": ""})


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a", None),
        (b"<svg", None),
    ],
)
def test_images_are_recognised_by_their_bytes(data: bytes, kind: str | None) -> None:
    assert sniff_image_type(data) == kind
