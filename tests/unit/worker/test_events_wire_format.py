"""Job events are written byte for byte as FastStream publishes a stream message."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.redis.parser import BinaryMessageFormatV1
from pydantic import TypeAdapter

from chartwise_contracts.jobs import AnyJobEvent, JobCompleted, JobProgress
from chartwise_runtime.worker.events import encode_event, new_event


async def test_frame_equals_the_one_faststream_encodes() -> None:
    event = JobCompleted.new(
        correlation_id="c-1", job_id="j", queue="q", name="n", attempt=1, result={"a": 1}, finished_at=datetime.now(UTC)
    )
    headers = {"content-type": "application/json", "message_id": event.meta.message_id, "message_type": "JobCompleted"}

    theirs = await BinaryMessageFormatV1.encode(
        message=event.model_dump_json().encode(), reply_to=None, headers=headers, correlation_id="c-1"
    )

    assert encode_event(event) == theirs


def test_event_built_without_validation_parses_as_the_contract_type() -> None:
    event = new_event(
        JobProgress, correlation_id="", actor="u1", job_id="j", queue="q", name="n", attempt=2, sequence=1, progress=0.5
    )

    body, headers = BinaryMessageFormatV1.parse(encode_event(event))
    parsed = TypeAdapter(AnyJobEvent).validate_json(body)

    assert parsed == event
    assert parsed.meta.correlation_id == parsed.meta.message_id
    assert headers["correlation_id"] == event.meta.correlation_id
    assert headers["message_type"] == "JobProgress"
