"""Conversions between contract models and the flat hash a job record is stored as."""

from __future__ import annotations

import json

from pydantic import JsonValue, TypeAdapter

from chartwise_contracts.jobs import JobState, Progress, QueuedJob
from chartwise_contracts.scheduler import JobView, Retention
from chartwise_scheduler.clock import from_ms

_progress: TypeAdapter[Progress] = TypeAdapter(Progress)

NO_BOUND = -1


def retention_fields(retention: Retention) -> tuple[int, int]:
    """(count to keep, age in seconds) as the scripts read them: 0 removes at once, -1 means no bound."""
    if retention is True:
        return 0, NO_BOUND
    if retention is False:
        return NO_BOUND, NO_BOUND
    if isinstance(retention, int):
        return retention, NO_BOUND
    count = NO_BOUND if retention.count is None else retention.count
    age = NO_BOUND if retention.age_s is None else retention.age_s
    return count, age


def _optional_ms(record: dict[str, str], field: str) -> int | None:
    value = record.get(field)
    return int(value) if value else None


def job_view(record: dict[str, str]) -> JobView:
    run = QueuedJob.model_validate_json(record["run"])
    started = _optional_ms(record, "started_at")
    finished = _optional_ms(record, "finished_at")
    result: JsonValue = json.loads(record["result"]) if record.get("result") else None
    progress = _progress.validate_json(record["progress"]) if record.get("progress") else None
    return JobView(
        job_id=record["id"],
        queue=record["queue"],
        name=record["name"],
        payload=run.payload,
        state=JobState(record["state"]),
        attempt=int(record["attempt"]),
        max_attempts=int(record["max_attempts"]),
        progress=progress,
        result=result,
        error=record.get("error") or None,
        created_at=from_ms(int(record["created_at"])),
        due_at=from_ms(int(record["due_at"])),
        started_at=from_ms(started) if started is not None else None,
        finished_at=from_ms(finished) if finished is not None else None,
        parent_id=record.get("parent_id") or None,
        schedule_id=record.get("schedule_id") or None,
        cancel_requested=record.get("cancel_requested") == "1",
    )
