"""Ports for what the service sends out (lifecycle events, jobs for the scheduler) and their broker adapters."""

from __future__ import annotations

from typing import Protocol

from faststream.redis import RedisBroker

from chartwise_contracts import Streams
from chartwise_contracts.analysis import AnalysisEvent
from chartwise_contracts.scheduler import EnqueueJob
from chartwise_runtime.rpc import publish


class EventPublisher(Protocol):
    async def publish(self, event: AnalysisEvent) -> None: ...


class JobScheduler(Protocol):
    async def enqueue(self, command: EnqueueJob) -> None: ...


class BrokerEventPublisher:
    """Lifecycle events on `Streams.ANALYSIS_EVENTS`; consumers are idempotent on the analysis id."""

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker

    async def publish(self, event: AnalysisEvent) -> None:
        spec = Streams.ANALYSIS_EVENTS
        await publish(self._broker, event, stream=spec.name, maxlen=spec.maxlen)


class BrokerJobScheduler:
    """`EnqueueJob` on the scheduler's command stream: durable once written, idempotent on the job id there."""

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker

    async def enqueue(self, command: EnqueueJob) -> None:
        spec = Streams.SCHEDULER_COMMANDS
        await publish(self._broker, command, stream=spec.name, maxlen=spec.maxlen)
