"""The worker kit: run a queue's jobs with retries, dead letters, stalled-job recovery and a shared rate limit."""

from chartwise_runtime.worker.backoff import retry_delay_ms
from chartwise_runtime.worker.context import JobContext
from chartwise_runtime.worker.dead_letters import DeadLetter, DeadLetters
from chartwise_runtime.worker.errors import DoNotRetry, JobCancelledError
from chartwise_runtime.worker.events import encode_event
from chartwise_runtime.worker.idempotency import EffectLedger
from chartwise_runtime.worker.lifecycle import WorkerHooks, worker_hooks
from chartwise_runtime.worker.limiter import RateLimit, SharedRateLimiter
from chartwise_runtime.worker.retries import LocalRetries, RetryPort, SchedulerRetries
from chartwise_runtime.worker.worker import Handler, Worker, WorkerOptions

__all__ = [
    "DeadLetter",
    "DeadLetters",
    "DoNotRetry",
    "EffectLedger",
    "Handler",
    "JobCancelledError",
    "JobContext",
    "LocalRetries",
    "RateLimit",
    "RetryPort",
    "SchedulerRetries",
    "SharedRateLimiter",
    "Worker",
    "WorkerHooks",
    "WorkerOptions",
    "encode_event",
    "retry_delay_ms",
    "worker_hooks",
]
