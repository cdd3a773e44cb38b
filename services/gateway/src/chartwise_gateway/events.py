"""Server-Sent Events of one analysis: its current status, then live job and analysis events until it ends.

Each stream reads the job-event and analysis-event streams with its own blocking XREAD, from positions
taken before the current status is fetched, so nothing that happens in between is missed. The stream
ends after `completed`, `failed` or `cancelled`; a comment line every few seconds keeps proxies from
closing an idle connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from typing import Any, Union, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from chartwise_contracts import Message, Queues, Streams
from chartwise_contracts.analysis import AnalysisCancelled, AnalysisCompleted, AnalysisEvent, AnalysisFailed
from chartwise_contracts.analysis_api import AnalysisStatus, AnalysisView
from chartwise_contracts.jobs import JobActive, JobCancelled, JobCompleted, JobFailed, JobProgress, JobRetrying
from chartwise_gateway.clients import Clients
from chartwise_gateway.stream_codec import entry_body
from chartwise_runtime.errors import DomainError
from chartwise_runtime.logging import get_logger

log = get_logger(__name__)

STREAM_READS: dict[str, tuple[type[Message], ...]] = {
    Streams.JOB_EVENTS.name: (JobActive, JobProgress, JobRetrying, JobCompleted, JobFailed, JobCancelled),
    Streams.ANALYSIS_EVENTS.name: (AnalysisCompleted, AnalysisFailed, AnalysisCancelled),
}
"""The streams the event streams tail (plain XREAD, no consumer group) and the message types decoded from each.

The registry test checks this against `chartwise_contracts.flows` and decodes a sample of each type through
`decode`, since the gateway has no AsyncAPI document to show what it reads.
"""

FINAL_STATUSES = {AnalysisStatus.COMPLETED: "completed", AnalysisStatus.FAILED: "failed"}
SSE_NAMES: dict[type[Message], str] = {
    JobActive: "active",
    JobProgress: "progress",
    JobRetrying: "retrying",
    AnalysisCompleted: "completed",
    AnalysisFailed: "failed",
    AnalysisCancelled: "cancelled",
}
"""The decoded types that become an SSE event; a job's own end is told by the analysis event that follows it."""
READ_COUNT = 200


@cache
def _adapter(stream: str) -> TypeAdapter[Message]:
    # Each type carries a literal `kind` or `type` tag, so at most one member of the union accepts an entry.
    union: Any = Union[STREAM_READS[stream]]  # noqa: UP007 - built at run time from the declared types
    return TypeAdapter(union)


def decode(stream: str, body: bytes | None) -> Message | None:
    """The message of one entry of a tailed stream, or None when it is not one of the types read there."""
    if body is None or stream not in STREAM_READS:
        return None
    try:
        return _adapter(stream).validate_json(body)
    except ValidationError:
        return None


def sse(event: str, data: BaseModel | dict[str, Any]) -> str:
    payload = data.model_dump_json() if isinstance(data, BaseModel) else json.dumps(data, default=str)
    return f"event: {event}\ndata: {payload}\n\n"


Entry = tuple[bytes, dict[bytes, bytes]]


async def _last_id(clients: Clients, stream: str) -> bytes:
    newest = cast("list[Entry]", await clients.redis.xrevrange(stream, count=1))
    return newest[0][0] if newest else b"0-0"


async def _read(clients: Clients, positions: dict[str, bytes], *, block_ms: int) -> list[tuple[bytes, list[Entry]]]:
    # The client does not decode replies, so stream names, ids and fields come back as bytes.
    read = await clients.redis.xread(positions, count=READ_COUNT, block=block_ms)  # type: ignore[arg-type]
    return cast("list[tuple[bytes, list[Entry]]]", read or [])


async def analysis_event_stream(
    analysis_id: str,
    *,
    clients: Clients,
    fetch: Callable[[], Awaitable[AnalysisView]],
    is_disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """Checks the analysis is the caller's (a 404 before any byte is sent), then returns its event stream."""
    positions = {
        Streams.JOB_EVENTS.name: await _last_id(clients, Streams.JOB_EVENTS.name),
        Streams.ANALYSIS_EVENTS.name: await _last_id(clients, Streams.ANALYSIS_EVENTS.name),
    }
    current = await fetch()
    return _events(analysis_id, current, positions, clients=clients, fetch=fetch, is_disconnected=is_disconnected)


async def _events(
    analysis_id: str,
    current: AnalysisView,
    positions: dict[str, bytes],
    *,
    clients: Clients,
    fetch: Callable[[], Awaitable[AnalysisView]],
    is_disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    yield sse("status", {"id": analysis_id, "status": current.status.value})
    if current.status in FINAL_STATUSES:
        yield sse(FINAL_STATUSES[current.status], current)
        return
    settings = clients.settings
    deadline = time.monotonic() + settings.sse_max_duration_s
    block_ms = int(settings.sse_heartbeat_s * 1000)
    while time.monotonic() < deadline and not await is_disconnected():
        read = await _read(clients, positions, block_ms=block_ms)
        if not read:
            yield ": heartbeat\n\n"
            continue
        for stream, entries in read:
            name = stream.decode()
            for entry_id, fields in entries:
                positions[name] = entry_id
                event = _event_of(analysis_id, decode(name, entry_body(fields)))
                if event is None:
                    continue
                kind, data = event
                if kind in ("completed", "failed"):
                    yield sse(kind, await _final_view(fetch, data))
                    return
                yield sse(kind, data)
                if kind == "cancelled":
                    return
    yield sse("timeout", {"id": analysis_id, "message": "the stream ended; reconnect to follow on"})


async def _final_view(
    fetch: Callable[[], Awaitable[AnalysisView]], event: dict[str, Any]
) -> BaseModel | dict[str, Any]:
    """The analysis as stored once it ended, or the event itself if the analysis service cannot answer now."""
    try:
        return await fetch()
    except DomainError as error:
        log.warning("could not read the finished analysis", code=error.code)
        return event


def _event_of(analysis_id: str, message: Message | None) -> tuple[str, dict[str, Any]] | None:
    """The SSE event name and data of one decoded message, if it concerns this analysis."""
    kind = SSE_NAMES.get(type(message)) if message is not None else None
    if kind is None:
        return None
    if isinstance(message, JobActive | JobProgress | JobRetrying):
        if message.queue != Queues.CHART_ANALYSIS or message.job_id != analysis_id:
            return None
        return kind, message.model_dump(mode="json", exclude={"meta", "payload", "job"})
    if isinstance(message, AnalysisEvent) and message.analysis_id == analysis_id:
        return kind, message.model_dump(mode="json", exclude={"meta"})
    return None
