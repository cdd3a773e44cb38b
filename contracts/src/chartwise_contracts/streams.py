"""Every stream, queue and consumer-group name in one place.

A stream named here is the only way two services talk. `maxlen` bounds each stream (approximate trimming
on every XADD) so Redis memory stays flat however long the system runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    maxlen: int = 100_000


class Streams:
    ANALYSIS_COMMANDS = StreamSpec("chartwise.analysis.commands")
    ANALYSIS_EVENTS = StreamSpec("chartwise.analysis.events")
    JOURNAL_COMMANDS = StreamSpec("chartwise.journal.commands")
    USAGE_COMMANDS = StreamSpec("chartwise.usage.commands")
    USAGE_EVENTS = StreamSpec("chartwise.usage.events")
    IDENTITY_EVENTS = StreamSpec("chartwise.identity.events")
    SCHEDULER_COMMANDS = StreamSpec("chartwise.scheduler.commands")
    JOB_EVENTS = StreamSpec("chartwise.jobs.events", maxlen=200_000)


class Groups:
    """Consumer groups: one per consuming service and stream, so each service sees every message once."""

    GATEWAY = "gateway"
    ANALYSIS = "analysis"
    JOURNAL = "journal"
    USAGE = "usage"
    SCHEDULER = "scheduler"


class Queues:
    """Job queues run by the worker kit; each is a stream `chartwise.queue.<name>` with one worker group."""

    CHART_ANALYSIS = "chart-analysis"
    SCHEDULER_MAINTENANCE = "scheduler-maintenance"
    USAGE_MAINTENANCE = "usage-maintenance"


def queue_stream(queue: str) -> str:
    return f"chartwise.queue.{queue}"


def dead_letter_stream(queue: str) -> str:
    return f"chartwise.queue.{queue}.dead"


def rpc_subject(service: str, operation: str) -> str:
    """The stream a service serves one request/reply operation on."""
    return f"chartwise.rpc.{service}.{operation}"
