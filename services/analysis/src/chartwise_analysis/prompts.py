"""The instructions given to the vision model: one chart, or one asset on several timeframes.

Both prompts carry the trader's strategy and risk band and ask for the sections a trader reads: key
takeaways, the trade evaluation against the strategy, an execution plan only when a setup matches, and
a summary. The structured answer's schema carries the shape; the prompts carry the judgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from chartwise_contracts.analysis_api import AnalysisMetadata

RiskBand = Literal["low", "medium", "high"]

SYSTEM_PROMPT = """\
You are a disciplined technical analyst reviewing price charts for a retail trader.
Work only from what is visible in the images: never invent indicators, prices or patterns that are not shown.
Prices you give must be readable from the chart's price axis; round them to the axis precision.
If an image is not a price chart, set is_chart to false, explain in not_chart_reason that a price chart is \
needed, leave every analysis field empty, and say the same in markdown.
When no setup fits the trader's strategy and risk, set setup_found to false, say so plainly in \
setup_assessment, and give no trade plan and no risk/reward.
confidence is your confidence in the overall read, from 0 to 1.
markdown renders the whole analysis for reading, with these sections in order: \
"## Key Takeaways" (bias with its reasons, support and resistance, patterns and indicators seen), \
"## Trade Evaluation", "## Trade Execution Plan" (entry trigger, stop loss, take profits, when to move \
the stop to break-even; or why there is none), and "## Summary" (entry, stop, take profit, expected \
duration, conditions that would make you re-evaluate)."""

_SINGLE = """\
Analyse this chart for the trader below.
1. Key takeaways: the overall bias (bullish, bearish or neutral) with the reasons for it; the support and \
resistance levels that matter; the chart patterns and indicators that are actually visible.
2. Trade evaluation: is there a setup that matches the trader's strategy and risk tolerance right now?
3. If there is one, the execution plan: direction, entry and its trigger, stop loss, one to three take \
profits, the risk/reward ratio, when to move the stop to break-even, and the expected duration of the trade.
4. The conditions under which the analysis should be re-evaluated.

{trader}"""

_MULTI = """\
These {count} charts show the same asset on different timeframes ({timeframes}).
Assess each timeframe on its own first: give one timeframes entry per chart with its bias and notes.
Then say which timeframe dominates and why in dominant_timeframe and the bias reasons: the higher \
timeframe sets the trend, the lower ones time the entry. Where they disagree, say so and weigh it in \
your confidence.
Then, across the timeframes:
1. Key takeaways: the overall bias with its reasons; the support and resistance levels that matter; the \
patterns and indicators actually visible, naming the timeframe where each appears.
2. Trade evaluation: is there a setup that matches the trader's strategy and risk tolerance right now?
3. If there is one, the execution plan: direction, entry and its trigger (on the lower timeframe), stop \
loss, one to three take profits, the risk/reward ratio, when to move the stop to break-even, and the \
expected duration.
4. The conditions under which the analysis should be re-evaluated.

{trader}"""

_RISK_GUIDANCE: dict[RiskBand, str] = {
    "low": "low: only clean, confirmed setups with tight stops and a risk/reward of at least 2",
    "medium": "medium: confirmed setups with a reasonable stop and a risk/reward of at least 1.5",
    "high": "high: early or aggressive entries are acceptable if the risk/reward justifies them",
}


def risk_band(risk: int | None) -> RiskBand | None:
    """0 to 33 low, 34 to 66 medium, above 66 high; 0 or nothing means the trader did not say."""
    if not risk:
        return None
    if risk <= 33:
        return "low"
    if risk <= 66:
        return "medium"
    return "high"


def trader_profile(metadata: AnalysisMetadata) -> str:
    strategy = metadata.strategy_and_criteria.strip() or "not given: judge setups on their own merit"
    band = risk_band(metadata.risk)
    risk = f"{_RISK_GUIDANCE[band]} (risk {metadata.risk}/100)" if band else "not given: assume medium"
    # The strategy text is the trader's, so it is fenced off as data, not as instructions.
    return f'Trader\'s strategy and criteria (quoted): """{strategy}"""\nRisk tolerance: {risk}.'


def chart_analysis_prompt(metadata: AnalysisMetadata) -> str:
    """chartAnalysisPrompt: the instructions for one chart."""
    return _SINGLE.format(trader=trader_profile(metadata))


def chart_analysis_multi_prompt(metadata: AnalysisMetadata, timeframes: Sequence[str | None]) -> str:
    """chartAnalysisMultiPrompt: the instructions for one asset on several timeframes."""
    named = ", ".join(t or f"chart {i}, timeframe unlabelled" for i, t in enumerate(timeframes, start=1))
    return _MULTI.format(count=len(timeframes), timeframes=named, trader=trader_profile(metadata))


def user_prompt(metadata: AnalysisMetadata, timeframes: Sequence[str | None]) -> str:
    if len(timeframes) == 1:
        return chart_analysis_prompt(metadata)
    return chart_analysis_multi_prompt(metadata, timeframes)
