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
from typing import Any, cast

from pydantic import BaseModel

from chartwise_contracts import Queues, Streams
from chartwise_contracts.analysis_api import AnalysisStatus, AnalysisView
from chartwise_gateway.clients import Clients
from chartwise_gateway.stream_codec import entry_body
from chartwise_runtime.errors import DomainError
from chartwise_runtime.logging import get_logger

log = get_logger(__name__)

FINAL_STATUSES = {AnalysisStatus.COMPLETED: "completed", AnalysisStatus.FAILED: "failed"}
JOB_EVENT_NAMES = {"JobActive": "active", "JobProgress": "progress", "JobRetrying": "retrying"}
ANALYSIS_EVENT_NAMES = {
    "analysis.completed": "completed",
    "analysis.failed": "failed",
    "analysis.cancelled": "cancelled",
}
READ_COUNT = 200


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
                event = _event_of(analysis_id, entry_body(fields))
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


def _event_of(analysis_id: str, body: bytes | None) -> tuple[str, dict[str, Any]] | None:
    """The SSE event name and data of one stream entry, if it concerns this analysis."""
    if body is None:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    data = {k: v for k, v in message.items() if k not in ("meta", "payload", "job")}
    kind = message.get("kind")
    if (
        kind in JOB_EVENT_NAMES
        and message.get("queue") == Queues.CHART_ANALYSIS
        and message.get("job_id") == analysis_id
    ):
        return JOB_EVENT_NAMES[kind], data
    event_type = message.get("type")
    if event_type in ANALYSIS_EVENT_NAMES and message.get("analysis_id") == analysis_id:
        return ANALYSIS_EVENT_NAMES[event_type], data
    return None
