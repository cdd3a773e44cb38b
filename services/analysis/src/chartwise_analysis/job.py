"""The worker kit's handler for `chart-analysis` jobs: a thin adapter around `run_analysis`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chartwise_analysis.errors import AnalysisRunError
from chartwise_analysis.intake import AnalysisJob
from chartwise_analysis.processing import Attempt, RunDeps, run_analysis
from chartwise_runtime.logging import get_logger
from chartwise_runtime.worker import DoNotRetry, JobContext

log = get_logger(__name__)


def analysis_job_handler(deps: RunDeps) -> Callable[[AnalysisJob, JobContext], Awaitable[dict[str, Any]]]:
    async def handle(payload: AnalysisJob, ctx: JobContext) -> dict[str, Any]:
        attempt = Attempt(number=ctx.attempt, last=ctx.is_last_attempt)
        try:
            outcome = await run_analysis(payload.analysis_id, attempt, deps, ctx.progress)
        except AnalysisRunError as error:
            if error.retryable:
                raise
            # The analysis is already marked failed; another run could not succeed.
            raise DoNotRetry(error.reason) from error
        return {"analysis_id": payload.analysis_id, "outcome": outcome.value}

    return handle
