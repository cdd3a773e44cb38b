"""One run of an analysis: read the charts, ask the vision model, store the result, announce the outcome.

Plain async code with its dependencies passed in; the worker kit's handler only adapts it (`job.py`).
A run of an analysis that is already finished changes nothing and calls no model: it only announces the
outcome again, in case the run that finished it stopped before announcing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chartwise_analysis.charts import Fetcher, load_images, store_sources
from chartwise_analysis.clock import Clock
from chartwise_analysis.errors import AnalysisRunError
from chartwise_analysis.outbound import EventPublisher
from chartwise_analysis.prompts import SYSTEM_PROMPT, user_prompt
from chartwise_analysis.record import ChartAnalysis
from chartwise_analysis.repository import AnalysisStore
from chartwise_analysis.vision import VisionProvider, VisionRequest
from chartwise_contracts.analysis import AnalysisCompleted, AnalysisFailed
from chartwise_contracts.analysis_api import AnalysisStatus, Timings
from chartwise_contracts.envelope import Envelope
from chartwise_runtime.blobs import BlobStore
from chartwise_runtime.logging import get_logger

ProgressReport = Callable[[dict[str, Any]], Awaitable[None]]

MAX_REASON = 2000

log = get_logger(__name__)


class RunOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    GONE = "gone"
    """Deleted before or during the run: nothing to do, nothing to announce."""


@dataclass(frozen=True, slots=True)
class RunDeps:
    store: AnalysisStore
    blobs: BlobStore
    fetcher: Fetcher
    vision: VisionProvider
    events: EventPublisher
    clock: Clock
    image_max_bytes: int


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    last: bool


def _ms(since: float) -> int:
    return max(0, round((time.monotonic() - since) * 1000))


async def run_analysis(analysis_id: str, attempt: Attempt, deps: RunDeps, progress: ProgressReport) -> RunOutcome:
    """Runs the analysis once; raises AnalysisRunError (after recording the failure when it is final)."""
    current = await deps.store.get(analysis_id)
    if current is None:
        return RunOutcome.GONE
    if current.finished:
        return await announce(current, deps)
    started = time.monotonic()
    analysis = await deps.store.start_run(analysis_id, attempt=attempt.number, at=deps.clock())
    if analysis is None:
        return await run_analysis_finished_meanwhile(analysis_id, deps)
    try:
        return await _work(analysis, deps, progress, started)
    except AnalysisRunError as error:
        if not error.retryable or attempt.last:
            await fail(analysis, error.reason, deps)
        raise
    except Exception as error:
        if attempt.last:
            await fail(analysis, f"internal error: {type(error).__name__}", deps)
        raise


async def _work(analysis: ChartAnalysis, deps: RunDeps, progress: ProgressReport, started: float) -> RunOutcome:
    charts, fetched = await store_sources(analysis.charts, deps.blobs, deps.fetcher)
    if fetched:
        await deps.store.save_charts(analysis.id, charts, at=deps.clock())
    images = await load_images(charts, deps.blobs, max_bytes=deps.image_max_bytes)
    images_ms = _ms(started)
    await progress({"stage": "images_fetched", "charts": len(images)})

    request = VisionRequest(
        system_prompt=SYSTEM_PROMPT,
        user_prompt=user_prompt(analysis.metadata, [image.timeframe for image in images]),
        images=tuple(images),
    )
    model_started = time.monotonic()
    answer = await deps.vision.analyse(request)
    model_ms = _ms(model_started)
    await progress({"stage": "model_called", "model": answer.model, "tokens": answer.usage.total_tokens})

    waited = (analysis.started_at or analysis.created_at) - analysis.created_at
    queued_ms = max(0, round(waited.total_seconds() * 1000))
    timings = Timings(images_ms=images_ms, model_ms=model_ms, total_ms=_ms(started), queued_ms=queued_ms)
    completed_at = deps.clock()
    saved = await deps.store.complete(
        analysis.id,
        result=answer.result,
        provider=deps.vision.name,
        model=answer.model,
        usage=answer.usage,
        timings=timings,
        at=completed_at,
    )
    if not saved:
        return await run_analysis_finished_meanwhile(analysis.id, deps)
    await deps.events.publish(_completed(analysis, completed_at))
    await progress({"stage": "saved", "is_chart": answer.result.is_chart})
    log.info("analysis completed", analysis_id=analysis.id, model=answer.model, tokens=answer.usage.total_tokens)
    return RunOutcome.COMPLETED


async def fail(analysis: ChartAnalysis, reason: str, deps: RunDeps) -> None:
    """Records the final failure and announces the stored outcome; announcing again is harmless (idempotent consumers).

    An analysis that had finished already keeps its outcome, which is announced again: a run whose result was
    stored but whose announcement failed must still have its `AnalysisCompleted` published.
    """
    reason = reason[:MAX_REASON] or "failed"
    await deps.store.fail(analysis.id, reason=reason, at=deps.clock())
    stored = await deps.store.get(analysis.id)
    if stored is None or not stored.finished:
        return
    outcome = await announce(stored, deps)
    log.info("analysis ended", analysis_id=analysis.id, outcome=str(outcome), reason=reason)


async def run_analysis_finished_meanwhile(analysis_id: str, deps: RunDeps) -> RunOutcome:
    current = await deps.store.get(analysis_id)
    if current is None:
        return RunOutcome.GONE
    return await announce(current, deps)


async def announce(analysis: ChartAnalysis, deps: RunDeps) -> RunOutcome:
    """Publishes the event of a finished analysis again."""
    if analysis.status == AnalysisStatus.COMPLETED:
        await deps.events.publish(_completed(analysis, analysis.completed_at or analysis.updated_at))
        return RunOutcome.COMPLETED
    await deps.events.publish(_failed(analysis, analysis.error or "failed", analysis.failed_at or analysis.updated_at))
    return RunOutcome.FAILED


def _meta(analysis: ChartAnalysis) -> Envelope:
    return Envelope(correlation_id=analysis.correlation_id, actor=analysis.user_id)


def _completed(analysis: ChartAnalysis, at: datetime) -> AnalysisCompleted:
    return AnalysisCompleted(meta=_meta(analysis), analysis_id=analysis.id, user_id=analysis.user_id, completed_at=at)


def _failed(analysis: ChartAnalysis, reason: str, at: datetime) -> AnalysisFailed:
    return AnalysisFailed(
        meta=_meta(analysis), analysis_id=analysis.id, user_id=analysis.user_id, reason=reason, failed_at=at
    )


async def give_up(analysis_id: str, reason: str, deps: RunDeps) -> None:
    """Ends an analysis whose job ended for good: fails it if no run recorded an outcome, else announces that outcome.

    Its worker may have died on every attempt, or a run may have stored its outcome and failed to announce it.
    """
    current = await deps.store.get(analysis_id)
    if current is None:
        return
    if current.finished:
        await announce(current, deps)
        return
    await fail(current, reason, deps)
