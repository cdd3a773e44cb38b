"""The Lua scripts that make every job-record transition atomic across scheduler replicas."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from chartwise_contracts.jobs import CANCEL_CHANNEL, JOB_GROUP, cancel_key
from chartwise_contracts.streams import queue_stream
from chartwise_scheduler.clock import Clock

KEY_PREFIX = "chartwise:sched:"

_SCRIPT_NAMES = (
    "enqueue",
    "release_due",
    "apply_event",
    "cancel",
    "resume_queue",
    "remove_older",
    "upsert_schedule",
    "claim_slot",
    "remove_schedule",
    "reopen_job",
)


def _source(name: str) -> str:
    return resources.files("chartwise_scheduler").joinpath("lua", f"{name}.lua").read_text()


@dataclass(frozen=True)
class Keys:
    """Key names shared with the Lua scripts (see lua/common.lua)."""

    prefix: str = KEY_PREFIX

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def state(self, queue: str, state: str) -> str:
        return f"{self.prefix}q:{queue}:{state}"

    def name(self, queue: str, name: str) -> str:
        return f"{self.prefix}q:{queue}:name:{name}"

    def name_state(self, queue: str, name: str, state: str) -> str:
        return f"{self.prefix}q:{queue}:name:{name}:{state}"

    def schedule(self, schedule_id: str) -> str:
        return f"{self.prefix}schedule:{schedule_id}"

    @property
    def due(self) -> str:
        return f"{self.prefix}due"

    @property
    def expiry(self) -> str:
        return f"{self.prefix}expiry"

    @property
    def paused(self) -> str:
        return f"{self.prefix}paused"

    @property
    def wake_channel(self) -> str:
        return f"{self.prefix}wake"

    @property
    def schedules(self) -> str:
        return f"{self.prefix}schedules"

    def schedules_of(self, queue: str) -> str:
        return f"{self.prefix}schedules:q:{queue}"

    @property
    def schedules_due(self) -> str:
        return f"{self.prefix}schedules:due"


class Scripts:
    """Registered scripts; each call passes the shared context (prefix, stream names, now) before its own arguments."""

    def __init__(self, redis: Redis, clock: Clock, keys: Keys) -> None:
        common = _source("common")
        self._redis = redis
        self._clock = clock
        self._keys = keys
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(f"{common}\n{_source(name)}") for name in _SCRIPT_NAMES
        }

    async def run(self, name: str, *args: str | int, client: Pipeline | None = None) -> Any:
        context = (
            self._keys.prefix,
            queue_stream(""),
            JOB_GROUP,
            self._clock.now_ms(),
            cancel_key(""),
            CANCEL_CHANNEL,
        )
        return await self._scripts[name](keys=[], args=[*context, *args], client=client)
