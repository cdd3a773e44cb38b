"""Job events are written byte for byte as FastStream publishes a stream message."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from faststream.redis.parser import BinaryMessageFormatV1
from pydantic import TypeAdapter

from chartwise_contracts.jobs import AnyJobEvent, JobActive, JobCompleted, JobProgress
from chartwise_runtime.worker.events import _ids, encode_event, encoded_event, new_event


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


def test_event_encoded_from_its_fields_is_the_frame_of_its_model() -> None:
    now = datetime.now(UTC)
    encoded = encoded_event(
        JobCompleted,
        correlation_id="c-1",
        actor="u1",
        occurred_at=now,
        job_id="j",
        queue="q",
        name="n",
        kind="JobCompleted",
        attempt=2,
        result={"a": [1, "x", None], "b": 0.5},
        finished_at=now,
    )

    model = encoded.model()
    body, headers = BinaryMessageFormatV1.parse(encoded.frame)

    assert encode_event(model) == encoded.frame
    assert TypeAdapter(AnyJobEvent).validate_json(body) == model
    assert headers["message_id"] == model.meta.message_id
    assert model.result == {"a": [1, "x", None], "b": 0.5}


def test_event_encoded_without_a_correlation_id_correlates_to_itself() -> None:
    now = datetime.now(UTC)
    encoded = encoded_event(
        JobActive,
        correlation_id="",
        actor=None,
        occurred_at=now,
        job_id="j",
        queue="q",
        name="n",
        kind="JobActive",
        attempt=1,
        worker="w1",
        started_at=now,
    )

    body, headers = BinaryMessageFormatV1.parse(encoded.frame)
    parsed = TypeAdapter(AnyJobEvent).validate_json(body)

    assert isinstance(parsed, JobActive)
    assert parsed.meta.correlation_id == parsed.meta.message_id == headers["correlation_id"]
    assert len(parsed.meta.message_id) == 32
    assert encode_event(parsed) == encoded.frame


def test_a_forked_process_draws_message_ids_of_its_own() -> None:
    encoded_event(
        JobActive, correlation_id="", actor=None, occurred_at=datetime.now(UTC), job_id="j", queue="q", name="n"
    )
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the next id it would use, then leave without running pytest's teardown
        os.write(write_end, _ids.next().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.close(write_end)

    assert len(child_id) == 32
    assert child_id != _ids.next()
