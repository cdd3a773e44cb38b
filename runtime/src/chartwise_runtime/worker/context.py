"""What a job handler gets besides its payload: who the job is, progress reports, cancellation, once-only effects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from chartwise_contracts.jobs import Progress, QueuedJob
from chartwise_runtime.worker.errors import JobCancelledError
from chartwise_runtime.worker.idempotency import EffectLedger

ProgressSink = Callable[["JobContext", int, Progress], Awaitable[None]]


class JobContext:
    def __init__(
        self,
        job: QueuedJob,
        *,
        attempt: int,
        worker: str,
        report_progress: ProgressSink,
        ledger: EffectLedger,
    ) -> None:
        self.job = job
        self.attempt = attempt
        self.worker = worker
        self._report_progress = report_progress
        self._ledger = ledger
        self._sequence = 0
        # Made on first wait: most runs are never waited on, and a job's context is made on the hot path.
        self._cancelled: asyncio.Event | None = None
        self._is_cancelled = False
        self.cancel_reason = ""

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def queue(self) -> str:
        return self.job.queue

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.job.max_attempts

    async def progress(self, value: Progress) -> None:
        """Reports progress (a number or a small dict); reports of one run keep their order."""
        self._sequence += 1
        await self._report_progress(self, self._sequence, value)

    @property
    def cancelled(self) -> bool:
        return self._is_cancelled

    async def wait_cancelled(self) -> None:
        """Returns when the job is cancelled (or this worker lost it); for racing long waits against it."""
        if self._cancelled is None:
            self._cancelled = asyncio.Event()
            if self._is_cancelled:
                self._cancelled.set()
        await self._cancelled.wait()

    def raise_if_cancelled(self) -> None:
        """Ends the run as cancelled if cancellation was asked for; call it between steps of long work."""
        if self.cancelled:
            raise JobCancelledError(self.cancel_reason or "cancelled")

    def cancel(self, reason: str) -> None:
        """Signals the handler to stop; called by the worker, not by handlers."""
        if not self._is_cancelled:
            self._is_cancelled = True
            self.cancel_reason = reason
            if self._cancelled is not None:
                self._cancelled.set()

    @asynccontextmanager
    async def once(self, effect: str) -> AsyncIterator[bool]:
        """`async with ctx.once("charge") as first:` apply the effect only if `first`; see `idempotency`."""
        async with self._ledger.once(self.job_id, effect) as first:
            yield first
