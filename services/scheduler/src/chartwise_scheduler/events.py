"""Job events from the worker kit, turned into record transitions; applying one twice changes nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chartwise_contracts.jobs import (
    JobActive,
    JobCancelled,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobProgress,
    JobRetrying,
    Progress,
    job_event_types,
)
from chartwise_runtime.logging import get_logger
from chartwise_scheduler.clock import to_ms
from chartwise_scheduler.store import JobStore

log = get_logger(__name__)

_progress: TypeAdapter[Progress] = TypeAdapter(Progress)

# The events carry no type field, so the type is told by the one field only it has, most specific first.
_TYPE_BY_FIELD: tuple[tuple[str, type[JobEvent]], ...] = (
    ("next_run_at", JobRetrying),
    ("cancelled_at", JobCancelled),
    ("started_at", JobActive),
    ("sequence", JobProgress),
    ("error", JobFailed),
    ("finished_at", JobCompleted),
)


def parse_job_event(body: Mapping[str, Any], type_name: str | None = None) -> JobEvent:
    """The typed event: by its type name when the producer gave one, else by its distinguishing field."""
    types = job_event_types()
    declared = type_name or body.get("type") or body.get("kind")
    if isinstance(declared, str) and declared in types:
        return types[declared].model_validate(body)
    for field, event_type in _TYPE_BY_FIELD:
        if field in body:
            return event_type.model_validate(body)
    raise ValueError(f"not a job event: fields {sorted(body)}")


def event_args(event: JobEvent) -> list[str | int]:
    """The `apply_event` script's arguments for one event."""
    match event:
        case JobActive():
            return ["active", event.job_id, event.attempt, to_ms(event.started_at), event.worker]
        case JobProgress():
            progress = _progress.dump_json(event.progress).decode()
            return ["progress", event.job_id, event.attempt, event.sequence, progress]
        case JobCompleted():
            result = json.dumps(event.result)
            return ["completed", event.job_id, event.attempt, to_ms(event.finished_at), result]
        case JobRetrying():
            run = event.job.model_dump_json()
            next_at = to_ms(event.next_run_at)
            return ["retrying", event.job_id, event.attempt, next_at, event.job.attempt, run, event.error]
        case JobFailed():
            return ["failed", event.job_id, event.attempt, to_ms(event.finished_at), event.error]
        case JobCancelled():
            return ["cancelled", event.job_id, 1, to_ms(event.cancelled_at), event.reason]
    raise TypeError(f"unknown job event {type(event).__name__}")


async def apply_job_events(events: Sequence[JobEvent], store: JobStore) -> list[str]:
    """Applies events in order in one round trip; returns each outcome (applied, stale, finished, missing)."""
    if not events:
        return []
    async with store.redis.pipeline(transaction=False) as pipe:
        for event in events:
            await store.scripts.run("apply_event", *event_args(event), client=pipe)
        outcomes: list[str] = await pipe.execute()
    if any(isinstance(e, JobRetrying) for e in events):
        store.notify_due_changed()
    return outcomes


def parse_batch(bodies: Sequence[Any]) -> list[JobEvent]:
    """Parses a batch of stream bodies; a malformed entry is logged and skipped so it cannot block the stream."""
    events: list[JobEvent] = []
    for body in bodies:
        try:
            if not isinstance(body, Mapping):
                raise TypeError(f"expected an object, got {type(body).__name__}")
            events.append(parse_job_event(body))
        except (ValidationError, ValueError, TypeError) as error:
            log.error("job event dropped: unreadable", error=str(error))
    return events
