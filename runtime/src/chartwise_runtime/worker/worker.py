"""A worker runs one queue's jobs: batched reads, a hard concurrency cap, a shared rate limit, leases.

One task takes entries (the free slots, plus a read-ahead paced to what will start soon; exactly the granted
starts under a rate limit) into a local queue; a fixed pool of `concurrency` runner tasks executes them.
Each run's start (`JobActive` and its start mark) is durable before its handler is called; outcomes are
written by the outbox in batches, and an entry is acked only together with the event of its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, JsonValue, TypeAdapter, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from chartwise_contracts import Streams, StreamSpec, queue_stream
from chartwise_contracts.jobs import (
    CANCEL_CHANNEL,
    JOB_GROUP,
    QUEUE_ENTRY_FIELD,
    JobActive,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobProgress,
    JobRetrying,
    Progress,
    QueuedJob,
    cancel_key,
)
from chartwise_runtime.logging import get_logger
from chartwise_runtime.worker.backoff import retry_delay_ms
from chartwise_runtime.worker.context import JobContext
from chartwise_runtime.worker.dead_letters import DEFAULT_DEAD_LETTER_CAP, DeadLetters
from chartwise_runtime.worker.errors import DoNotRetry, JobCancelledError
from chartwise_runtime.worker.events import EncodedEvent, encoded_event, new_event
from chartwise_runtime.worker.idempotency import DEFAULT_DONE_TTL_S, EffectLedger
from chartwise_runtime.worker.leases import Delivery, Leases
from chartwise_runtime.worker.limiter import RateLimit, SharedRateLimiter
from chartwise_runtime.worker.outbox import Outbox
from chartwise_runtime.worker.reading import QueueReader
from chartwise_runtime.worker.retries import RetryPort, SchedulerRetries

P = TypeVar("P", bound=BaseModel)
E = TypeVar("E")

Handler = Callable[[P, JobContext], Awaitable[Any]]
Hook = Callable[[E], Awaitable[None]]

_json_value: TypeAdapter[JsonValue] = TypeAdapter(JsonValue)

log = get_logger(__name__)

READ_AHEAD_HORIZON_S = 0.02
"""A worker reads ahead at most the entries it will start within this time at its recent pace."""
_PACE_WEIGHT = 0.2
"""Weight of the latest run in the moving mean of run times."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    visibility_timeout_s: float = 30.0
    """A job whose worker has not renewed its lease for this long is reclaimed by another worker."""
    heartbeat_interval_s: float | None = None
    """How often leases are renewed; a third of the visibility timeout unless set."""
    block_ms: int = 1_000
    """Longest wait on an empty queue before looking for stalled jobs again."""
    dead_letter_cap: int = DEFAULT_DEAD_LETTER_CAP
    events: StreamSpec = Streams.JOB_EVENTS
    retry_poll_s: float = 0.05
    """How often kit-kept retries (`LocalRetries`) are checked for being due."""
    done_ttl_s: int = DEFAULT_DONE_TTL_S
    """How long `ctx.once` remembers an applied effect."""
    read_ahead: int | None = None
    """Most entries read beyond the free slots and held unstarted; twice the concurrency unless set, 0 with a rate
    limit. Only as many are read ahead as the worker will start within `READ_AHEAD_HORIZON_S` at its recent pace."""

    @property
    def heartbeat_s(self) -> float:
        return self.heartbeat_interval_s or self.visibility_timeout_s / 3


@dataclass(eq=False, slots=True)
class _Run:
    delivery: Delivery
    ctx: JobContext
    lost: bool = False


@dataclass
class _Hooks:
    completed: list[Hook[JobCompleted]] = field(default_factory=list)
    failed: list[Hook[JobFailed | JobRetrying]] = field(default_factory=list)
    progress: list[Hook[JobProgress]] = field(default_factory=list)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _to_json(result: Any) -> JsonValue:
    if result is None:
        return None
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return _json_value.validate_python(result)


class Worker(Generic[P]):
    """Runs `handler(payload, ctx)` for each job of `queue`; one `consumer` name per worker instance."""

    def __init__(
        self,
        queue: str,
        handler: Handler[P],
        *,
        payload_type: type[P],
        redis_url: str,
        consumer: str,
        concurrency: int = 1,
        limiter: RateLimit | tuple[int, float] | None = None,
        retries: RetryPort | None = None,
        options: WorkerOptions | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue = queue
        self.consumer = consumer
        self.concurrency = concurrency
        self._handler = handler
        self._payload_type = payload_type
        self._options = options or WorkerOptions()
        self._stream = queue_stream(queue)
        # One pool for short commands; one connection of its own for the blocking read, so stop() can
        # end that read at once with CLIENT UNBLOCK instead of abandoning entries already handed out.
        self._redis: Redis = Redis.from_url(redis_url, decode_responses=False)
        self._reader: Redis = Redis.from_url(redis_url, decode_responses=False, max_connections=1)
        self._reader_id: int | None = None
        self.dead_letters = DeadLetters(self._redis, queue, cap=self._options.dead_letter_cap)
        self._retries = retries or SchedulerRetries()
        self._outbox = Outbox(
            self._redis,
            queue_stream=self._stream,
            events=self._options.events,
            dead_letters=self.dead_letters,
            retries=self._retries,
        )
        self._leases = Leases(
            self._redis,
            stream=self._stream,
            consumer=consumer,
            visibility_timeout_ms=round(self._options.visibility_timeout_s * 1000),
        )
        self._queue = QueueReader(self._redis, self._reader, stream=self._stream, consumer=consumer)
        if isinstance(limiter, tuple):
            limiter = RateLimit(*limiter)
        self._limiter = SharedRateLimiter(self._redis, queue, limiter) if limiter else None
        # A start granted by the rate limit must happen at once, so a rate-limited worker never reads ahead.
        read_ahead = self._options.read_ahead
        if read_ahead is None:
            read_ahead = 0 if limiter else 2 * concurrency
        if read_ahead < 0 or (limiter and read_ahead):
            raise ValueError("read_ahead must be >= 0, and 0 for a rate-limited worker")
        self._max_read_ahead = read_ahead
        self._mean_run_s: float | None = None
        """Recent mean time a run holds its slot; unknown until runs finish, and no read-ahead until then."""
        self._capacity = concurrency
        self._low_water = 1
        self._ledger = EffectLedger(self._redis, ttl_s=self._options.done_ttl_s)
        self._hooks = _Hooks()
        self._running: dict[bytes, _Run] = {}
        self._ready: deque[_Run] = deque()
        """Admitted runs waiting for a runner, in read order; not started, so handed back on stop."""
        self._backlog: list[_Run] = []
        """Runs held back by the rate limit."""
        self._has_work = asyncio.Event()
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[asyncio.Task[None]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._hook_tasks: set[asyncio.Task[None]] = set()
        """Failed hooks of jobs that stalled for good, each waiting for its outcome to be written."""
        self._log = log.bind(queue=queue, consumer=consumer)

    # -- hooks -------------------------------------------------------------------------------------

    def on_completed(self, hook: Hook[JobCompleted]) -> Hook[JobCompleted]:
        self._hooks.completed.append(hook)
        return hook

    def on_failed(self, hook: Hook[JobFailed | JobRetrying]) -> Hook[JobFailed | JobRetrying]:
        """Called for every failed run: `JobRetrying` while attempts remain, then `JobFailed`.

        Also called with `JobFailed` for a job whose worker died on its last attempt, once that outcome is written.
        """
        self._hooks.failed.append(hook)
        return hook

    def on_progress(self, hook: Hook[JobProgress]) -> Hook[JobProgress]:
        self._hooks.progress.append(hook)
        return hook

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def start(self) -> None:
        """Joins the queue's consumer group and starts taking jobs."""
        if self._loop_task is not None:
            raise RuntimeError("a worker starts once")
        with contextlib.suppress(ResponseError):  # BUSYGROUP: the group exists already
            await self._redis.xgroup_create(self._stream, JOB_GROUP, id="0", mkstream=True)
        self._reader_id = int(await self._reader.client_id())
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CANCEL_CHANNEL)
        name = f"worker:{self.consumer}"
        self._tasks = [
            asyncio.create_task(self._outbox.run(), name=f"{name}:outbox"),
            asyncio.create_task(self._heartbeat(), name=f"{name}:heartbeat"),
            asyncio.create_task(self._listen_for_cancellations(pubsub), name=f"{name}:cancellations"),
            asyncio.create_task(self._release_retries(), name=f"{name}:retries"),
        ]
        # A fixed pool of runners, one per slot: no task is created per job.
        self._runners = [
            asyncio.create_task(self._run_jobs(), name=f"{name}:runner:{i}") for i in range(self.concurrency)
        ]
        self._loop_task = asyncio.create_task(self._take_jobs(), name=f"{name}:take")
        self._log.info("worker started", concurrency=self.concurrency, read_ahead=self._max_read_ahead)

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Takes no new jobs, lets running ones finish within `drain_timeout`, leaves the rest to be reclaimed."""
        if self._loop_task is None:
            return
        self._stopping.set()
        self._room.set()
        self._has_work.set()
        while not self._loop_task.done():
            await self._unblock_reader()
            await asyncio.wait({self._loop_task}, timeout=0.05)
        await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._runners:
            _, unfinished = await asyncio.wait(self._runners, timeout=drain_timeout)
            left = len(self._running)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            if left:
                self._log.warning("jobs left pending for another worker", count=left)
        await self._outbox.close()
        outbox_task, *others = self._tasks
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.gather(outbox_task, return_exceptions=True)
        if self._hook_tasks:
            _, unfinished = await asyncio.wait(self._hook_tasks, timeout=drain_timeout)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        await self._redis.aclose()
        await self._reader.aclose()
        self._log.info("worker stopped")

    async def replay(self, job_id: str) -> QueuedJob:
        """Puts a dead-lettered job back on the queue as a fresh first attempt."""
        return await self.dead_letters.replay(job_id)

    async def _unblock_reader(self) -> None:
        if self._reader_id is not None:
            with contextlib.suppress(RedisError):
                await self._redis.client_unblock(self._reader_id)

    async def _pause(self, seconds: float) -> None:
        """Waits `seconds`, or less if the worker is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=max(seconds, 0.001))

    # -- taking jobs -------------------------------------------------------------------------------

    async def _take_jobs(self) -> None:
        claim_every = max(self._options.visibility_timeout_s / 2, 0.05)
        next_claim = 0.0
        while not self._stopping.is_set():
            try:
                if self._backlog:
                    await self._start_backlog()
                    continue
                self._pace_read_ahead()
                wanted = self._capacity - len(self._ready) - len(self._running)
                if wanted <= 0 or len(self._ready) >= self._low_water:
                    self._room.clear()
                    await self._room.wait()
                    continue
                if self._limiter is not None:
                    grant = await self._limiter.acquire(0)
                    if grant.free == 0:
                        await self._pause(grant.wait_s)
                        continue
                    wanted = min(wanted, grant.free)
                deliveries: list[Delivery] = []
                now = time.monotonic()
                if now >= next_claim:
                    next_claim = now + claim_every
                    deliveries = await self._leases.reclaim(wanted)
                if not deliveries:
                    block_ms = min(self._options.block_ms, max(1, round((next_claim - now) * 1000)))
                    deliveries = await self._queue.read(wanted, block_ms)
                if deliveries:
                    await self._admit(deliveries)
            except RedisError as error:
                self._log.warning("reading the queue failed; retrying", error=repr(error))
                await self._pause(0.5)
        unstarted = [run.delivery.entry_id for run in (*self._ready, *self._backlog)]
        self._ready.clear()
        self._backlog.clear()
        returned = await self._leases.hand_back(unstarted)
        if returned:
            self._log.info("handed back jobs never started", count=returned)

    def _pace_read_ahead(self) -> None:
        """Reads ahead only what this worker will start soon, so slow jobs are never held from idle replicas."""
        if self._max_read_ahead == 0 or self._mean_run_s is None:
            read_ahead = 0
        else:
            soon = self.concurrency * READ_AHEAD_HORIZON_S / max(self._mean_run_s, 1e-6)
            read_ahead = min(self._max_read_ahead, int(soon))
        self._capacity = self.concurrency + read_ahead
        self._low_water = max(1, min(self.concurrency, read_ahead))

    async def _admit(self, deliveries: list[Delivery]) -> None:
        """Turns fresh deliveries into runs: drops unreadable, exhausted and cancelled jobs, queues the rest."""
        runs: list[_Run] = []
        for delivery in deliveries:
            run = self._prepare(delivery)
            if run is not None:
                runs.append(run)
        if not runs:
            return
        unknown = [run for run in runs if run.delivery.cancelled is None]
        flags = await self._redis.mget([cancel_key(run.ctx.job_id) for run in unknown]) if unknown else []
        cancelled = {id(run) for run, flag in zip(unknown, flags, strict=True) if flag is not None}
        runnable: list[_Run] = []
        for run in runs:
            if run.delivery.cancelled or id(run) in cancelled:
                self._record_cancelled(run, "cancelled before it started")
            else:
                runnable.append(run)
        if self._stopping.is_set():
            self._backlog.extend(runnable)
            return
        if self._limiter is not None and runnable:
            granted = (await self._limiter.acquire(len(runnable))).granted
            runnable, held = runnable[:granted], runnable[granted:]
            self._backlog.extend(held)
        if runnable:
            self._ready.extend(runnable)
            self._has_work.set()

    async def _start_backlog(self) -> None:
        free = self.concurrency - len(self._running) - len(self._ready)
        if free <= 0:
            self._room.clear()
            await self._room.wait()
            return
        candidates = self._backlog[:free]
        grant = await self._limiter.acquire(len(candidates)) if self._limiter else None
        granted = len(candidates) if grant is None else grant.granted
        if granted:
            del self._backlog[:granted]
            self._ready.extend(candidates[:granted])
            self._has_work.set()
        elif grant is not None:
            await self._pause(grant.wait_s)

    def _prepare(self, delivery: Delivery) -> _Run | None:
        if delivery.fields is None:
            self._outbox.ack(delivery.entry_id)
            return None
        raw = delivery.fields.get(QUEUE_ENTRY_FIELD.encode())
        try:
            job = QueuedJob.model_validate_json(raw or b"")
        except ValidationError as error:
            self._log.error("unreadable queue entry parked", entry_id=delivery.entry_id, error=str(error))
            self._outbox.park_raw(delivery.fields, error=f"unreadable queue entry: {error}")
            self._outbox.ack(delivery.entry_id)
            return None
        # Runs of this entry that started and never recorded an outcome died with their workers: each is an
        # attempt that failed. Entries a dead worker had read ahead but never started carry no start mark.
        attempt = job.attempt + delivery.started
        ctx = JobContext(
            job, attempt=attempt, worker=self.consumer, report_progress=self._report_progress, ledger=self._ledger
        )
        run = _Run(delivery=delivery, ctx=ctx)
        if attempt > job.max_attempts:
            event = self._record_failure(
                run, "stalled: its worker stopped responding", attempt=attempt - 1, retry=False
            )
            self._log.warning("stalled job failed for good", job_id=job.job_id, attempt=attempt - 1)
            self._notify_failed_once_written(event)
            return None
        return run

    def _notify_failed_once_written(self, event: JobFailed | JobRetrying) -> None:
        """Calls the failed hooks in the background once the outcome is durable, so taking jobs never waits on them."""
        if not self._hooks.failed:
            return
        task = asyncio.create_task(
            self._notify_failed(event, self._outbox.written()), name=f"worker:{self.consumer}:hooks:{event.job_id}"
        )
        self._hook_tasks.add(task)
        task.add_done_callback(self._hook_tasks.discard)

    async def _notify_failed(self, event: JobFailed | JobRetrying, written: asyncio.Future[None]) -> None:
        # Shielded: the future is shared with runs waiting on their start, and must not be cancelled with this task.
        await asyncio.shield(written)
        for hook in self._hooks.failed:
            await self._call(hook, event)

    async def _run_jobs(self) -> None:
        """One runner: takes the next admitted run and executes it, until the worker stops."""
        ready = self._ready
        while True:
            if self._stopping.is_set():
                return
            if ready:
                run = ready.popleft()
                if len(ready) < self._low_water:
                    self._room.set()
                await self._execute(run)
                continue
            self._has_work.clear()
            await self._has_work.wait()

    def _active(self, ctx: JobContext) -> EncodedEvent[JobActive]:
        job = ctx.job
        now = datetime.now(UTC)
        return encoded_event(
            JobActive,
            actor=job.actor,
            correlation_id=job.correlation_id,
            occurred_at=now,
            job_id=job.job_id,
            queue=job.queue,
            name=job.name,
            kind="JobActive",
            attempt=ctx.attempt,
            worker=self.consumer,
            started_at=now,
        )

    # -- running one job ---------------------------------------------------------------------------

    async def _execute(self, run: _Run) -> None:
        ctx = run.ctx
        job = ctx.job
        entry_id = run.delivery.entry_id
        self._running[entry_id] = run
        began = 0.0
        try:
            # The start is durable before the handler runs, so a run that dies with its worker is counted.
            await self._outbox.start(self._active(ctx), entry_id, run.delivery.started + 1)
            if run.lost:
                return
            began = time.perf_counter()
            try:
                payload = self._payload_type.model_validate(job.payload)
            except ValidationError as error:
                raise DoNotRetry(f"invalid payload: {error}") from error
            if job.timeout_ms is None:
                result = await self._handler(payload, ctx)
            else:
                async with asyncio.timeout(job.timeout_ms / 1000):
                    result = await self._handler(payload, ctx)
            value = _to_json(result)
        except JobCancelledError as error:
            self._record_cancelled(run, str(error))
        except DoNotRetry as error:
            await self._failed(run, _describe(error), retry=False)
        except TimeoutError:
            await self._failed(run, f"timed out after {job.timeout_ms} ms", retry=True)
        except Exception as error:  # noqa: BLE001 - a handler's failure is the job's outcome, not ours
            await self._failed(run, _describe(error), retry=True)
        else:
            await self._completed(run, value)
        finally:
            self._running.pop(entry_id, None)
            if began:
                took = time.perf_counter() - began
                mean = self._mean_run_s
                self._mean_run_s = took if mean is None else mean + _PACE_WEIGHT * (took - mean)
            if len(self._ready) < self._low_water:
                self._room.set()

    async def _completed(self, run: _Run, value: JsonValue) -> None:
        if run.lost:
            self._log.warning("finished a job another worker had reclaimed", job_id=run.ctx.job_id)
            return
        job = run.ctx.job
        now = datetime.now(UTC)
        encoded = encoded_event(
            JobCompleted,
            actor=job.actor,
            correlation_id=job.correlation_id,
            occurred_at=now,
            job_id=job.job_id,
            queue=job.queue,
            name=job.name,
            kind="JobCompleted",
            attempt=run.ctx.attempt,
            result=value,
            finished_at=now,
        )
        self._outbox.emit(encoded)
        self._outbox.ack(run.delivery.entry_id)
        if self._hooks.completed:
            event = encoded.model()
            for hook in self._hooks.completed:
                await self._call(hook, event)

    async def _failed(self, run: _Run, error: str, *, retry: bool) -> None:
        if run.lost:
            self._log.warning("failed a job another worker had reclaimed", job_id=run.ctx.job_id, error=error)
            return
        self._log.info("job run failed", job_id=run.ctx.job_id, attempt=run.ctx.attempt, error=error)
        event = self._record_failure(run, error, attempt=run.ctx.attempt, retry=retry)
        for hook in self._hooks.failed:
            await self._call(hook, event)

    def _record_failure(self, run: _Run, error: str, *, attempt: int, retry: bool) -> JobFailed | JobRetrying:
        job = run.ctx.job
        common: dict[str, Any] = {
            "actor": job.actor,
            "correlation_id": job.correlation_id,
            "job_id": job.job_id,
            "queue": job.queue,
            "name": job.name,
            "attempt": attempt,
            "error": error,
        }
        event: JobFailed | JobRetrying
        if retry and attempt < job.max_attempts:
            delay_ms = retry_delay_ms(job.backoff, attempt)
            next_run_at = datetime.now(UTC) + timedelta(milliseconds=delay_ms)
            next_job = job.model_copy(update={"attempt": attempt + 1})
            event = new_event(JobRetrying, **common, next_run_at=next_run_at, job=next_job)
            self._outbox.defer(next_job, round(next_run_at.timestamp() * 1000))
        else:
            event = new_event(JobFailed, **common, finished_at=datetime.now(UTC), dead_lettered=True)
            self._outbox.park(job.model_copy(update={"attempt": attempt}), error=error, attempts=attempt)
        self._outbox.emit(event)
        self._outbox.ack(run.delivery.entry_id)
        return event

    def _record_cancelled(self, run: _Run, reason: str) -> None:
        job = run.ctx.job
        self._outbox.emit(
            new_event(
                JobCancelled,
                actor=job.actor,
                correlation_id=job.correlation_id,
                job_id=job.job_id,
                queue=job.queue,
                name=job.name,
                reason=reason,
                cancelled_at=datetime.now(UTC),
            )
        )
        self._outbox.ack(run.delivery.entry_id)

    async def _report_progress(self, ctx: JobContext, sequence: int, value: Progress) -> None:
        job = ctx.job
        event = JobProgress.new(
            actor=job.actor,
            correlation_id=job.correlation_id,
            job_id=job.job_id,
            queue=job.queue,
            name=job.name,
            attempt=ctx.attempt,
            sequence=sequence,
            progress=value,
        )
        self._outbox.emit(event)
        for hook in self._hooks.progress:
            await self._call(hook, event)

    async def _call(self, hook: Hook[E], event: E) -> None:
        try:
            await hook(event)
        except Exception:  # noqa: BLE001 - a local observer's failure must not change the job's outcome
            self._log.exception(
                "job hook failed",
                hook=getattr(hook, "__name__", repr(hook)),
                job_id=getattr(event, "job_id", None),
                event_kind=type(event).__name__,
            )

    # -- background duties -------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._options.heartbeat_s)
            held = [*self._running, *(run.delivery.entry_id for run in (*self._ready, *self._backlog))]
            try:
                lost = await self._leases.renew(held)
            except RedisError as error:
                self._log.warning("renewing job leases failed", error=repr(error))
                continue
            for entry_id in lost:
                self._lose(entry_id)

    def _lose(self, entry_id: bytes) -> None:
        run = self._running.get(entry_id)
        if run is not None:
            run.lost = True
            run.ctx.cancel("another worker reclaimed this job")
            self._log.warning("lease lost to another worker", job_id=run.ctx.job_id)
        self._backlog = [run for run in self._backlog if run.delivery.entry_id != entry_id]
        for waiting in [waiting for waiting in self._ready if waiting.delivery.entry_id == entry_id]:
            self._ready.remove(waiting)

    async def _listen_for_cancellations(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                job_id = message["data"].decode()
                self._cancel(job_id)
        finally:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()

    def _cancel(self, job_id: str) -> None:
        for run in self._running.values():
            if run.ctx.job_id == job_id:
                run.ctx.cancel("cancelled")
        waiting = [run for run in (*self._ready, *self._backlog) if run.ctx.job_id == job_id]
        for run in waiting:
            if run in self._backlog:
                self._backlog.remove(run)
            else:
                self._ready.remove(run)
            self._record_cancelled(run, "cancelled before it started")

    async def _release_retries(self) -> None:
        while True:
            try:
                await self._retries.release_due(self._redis, self.queue)
            except RedisError as error:
                self._log.warning("releasing due retries failed", error=repr(error))
            await asyncio.sleep(self._options.retry_poll_s)
