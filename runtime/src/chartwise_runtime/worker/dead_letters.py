"""The dead-letter stream of a queue: jobs that failed for good, kept (up to a cap) with their error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from chartwise_contracts import dead_letter_stream, queue_stream, utcnow
from chartwise_contracts.jobs import QUEUE_ENTRY_FIELD, QueuedJob
from chartwise_runtime.errors import NotFound

DEFAULT_DEAD_LETTER_CAP = 10_000

_SCAN_CHUNK = 500

_REPLAY = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then
  return false
end
local id = redis.call('XADD', KEYS[2], '*', ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    job: QueuedJob
    error: str
    attempts: int
    failed_at: datetime


def _decode(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter | None:
    try:
        job = QueuedJob.model_validate_json(fields[QUEUE_ENTRY_FIELD.encode()])
        return DeadLetter(
            entry_id=entry_id.decode(),
            job=job,
            error=fields.get(b"error", b"").decode(errors="replace"),
            attempts=int(fields.get(b"attempts", b"0")),
            failed_at=datetime.fromisoformat(fields[b"failed_at"].decode()),
        )
    except (KeyError, ValueError, ValidationError):
        return None


class DeadLetters:
    """Parks, lists and replays the dead letters of one queue."""

    def __init__(self, redis: Redis, queue: str, *, cap: int = DEFAULT_DEAD_LETTER_CAP) -> None:
        self._redis = redis
        self._queue = queue
        self.stream = dead_letter_stream(queue)
        self.cap = cap
        self._replay = redis.register_script(_REPLAY)

    def park(self, pipe: Pipeline, job: QueuedJob, *, error: str, attempts: int) -> None:
        """Adds the parking of `job` to a pipeline that also acks it, so the job is in exactly one place."""
        fields: dict[FieldT, EncodableT] = {
            QUEUE_ENTRY_FIELD: job.model_dump_json(),
            "job_id": job.job_id,
            "error": error,
            "attempts": str(attempts),
            "failed_at": utcnow().isoformat(),
        }
        pipe.xadd(self.stream, fields, maxlen=self.cap, approximate=True)

    def park_raw(self, pipe: Pipeline, fields: dict[bytes, bytes], *, error: str) -> None:
        """Parks a queue entry that is not a readable job, as it was, for someone to look at."""
        parked: dict[FieldT, EncodableT] = {key: value for key, value in fields.items()}
        parked.update({b"error": error, b"attempts": b"0", b"failed_at": utcnow().isoformat()})
        pipe.xadd(self.stream, parked, maxlen=self.cap, approximate=True)

    async def list(self, *, count: int = 100, before: str = "+") -> list[DeadLetter]:
        """The newest dead letters first; page on with `before` set to the last entry id seen (exclusive)."""
        end = before if before == "+" else f"({before}"
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await self._redis.xrevrange(
            self.stream, max=end, min="-", count=count
        )  # type: ignore[assignment]
        return [letter for entry_id, fields in entries if (letter := _decode(entry_id, fields)) is not None]

    async def find(self, job_id: str) -> DeadLetter:
        """The newest dead letter of `job_id`; raises NotFound."""
        end = "+"
        while True:
            entries: list[tuple[bytes, dict[bytes, bytes]]] = await self._redis.xrevrange(
                self.stream, max=end, min="-", count=_SCAN_CHUNK
            )  # type: ignore[assignment]
            for entry_id, fields in entries:
                if fields.get(b"job_id") == job_id.encode() and (letter := _decode(entry_id, fields)) is not None:
                    return letter
            if len(entries) < _SCAN_CHUNK:
                raise NotFound(f"no dead letter for job {job_id} on queue {self._queue}")
            end = f"({entries[-1][0].decode()}"

    async def replay(self, job_id: str) -> QueuedJob:
        """Puts a dead job back on its queue as a fresh first attempt, removing its dead letter."""
        letter = await self.find(job_id)
        job = letter.job.model_copy(update={"attempt": 1, "enqueued_at": utcnow()})
        added = await self._replay(
            keys=[self.stream, queue_stream(self._queue)],
            args=[letter.entry_id, QUEUE_ENTRY_FIELD, job.model_dump_json()],
        )
        if added is None:
            raise NotFound(f"the dead letter of job {job_id} was replayed or trimmed meanwhile")
        return job
