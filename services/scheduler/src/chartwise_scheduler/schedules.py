"""Recurring schedules in Redis: upsert by id, and slot claims that fire each slot once across replicas."""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis

from chartwise_contracts.scheduler import JobRequest, ScheduleSpec, ScheduleView
from chartwise_runtime.logging import get_logger
from chartwise_scheduler.clock import Clock, from_ms
from chartwise_scheduler.scripts import Keys, Scripts
from chartwise_scheduler.slots import Slots, plan_claim, timing_fingerprint, validate_timing
from chartwise_scheduler.store import new_job

log = get_logger(__name__)


def slot_job_id(schedule_id: str, slot_ms: int) -> str:
    """Deterministic, so a slot claimed twice by mistake still makes one job."""
    return f"sched:{schedule_id}:{slot_ms}"


def _view(record: dict[str, str]) -> ScheduleView:
    spec = ScheduleSpec.model_validate_json(record["spec"])
    next_slot = record.get("next_slot")
    return ScheduleView(
        **spec.model_dump(),
        next_run_at=from_ms(int(next_slot)) if next_slot else None,
        runs=int(record.get("runs", 0)),
        ended=not next_slot,
    )


class ScheduleStore:
    def __init__(self, redis: Redis, clock: Clock, scripts: Scripts, keys: Keys) -> None:
        self.redis = redis
        self.clock = clock
        self.scripts = scripts
        self.keys = keys

    async def upsert(self, spec: ScheduleSpec) -> tuple[ScheduleView, bool, bool]:
        """Stores the schedule; returns it with (created, replaced). Re-sending the same timing keeps its slots."""
        validate_timing(spec)
        now = self.clock.now_ms()
        anchor = now if spec.start_at is None else int(spec.start_at.timestamp() * 1000)
        first = Slots(spec, anchor).first_at_or_after(now)
        stored = ScheduleSpec.model_validate(spec.model_dump())
        created, replaced = await self.scripts.run(
            "upsert_schedule",
            spec.schedule_id,
            spec.queue,
            timing_fingerprint(spec),
            stored.model_dump_json(),
            "" if first is None else first,
            anchor,
        )
        view = await self.get(spec.schedule_id)
        assert view is not None, "a schedule just upserted exists"
        return view, created == 1, replaced == 1

    async def remove(self, schedule_id: str) -> bool:
        return bool(await self.scripts.run("remove_schedule", schedule_id))

    async def get(self, schedule_id: str) -> ScheduleView | None:
        record = cast(dict[str, str], await self.redis.hgetall(self.keys.schedule(schedule_id)))
        return _view(record) if record else None

    async def list(
        self, *, queue: str | None, offset: int, limit: int, id_prefix: str | None = None
    ) -> tuple[list[ScheduleView], int]:
        """Schedules in id order; with `id_prefix`, only ids starting with it (the indexes score every id 0)."""
        index = self.keys.schedules if queue is None else self.keys.schedules_of(queue)
        low: bytes = b"-"
        high: bytes = b"+"
        if id_prefix is not None:
            # 0xFF never occurs in UTF-8, so it sorts after every id that starts with the prefix.
            low, high = b"[" + id_prefix.encode(), b"[" + id_prefix.encode() + b"\xff"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrangebylex(index, low, high, offset, limit)
            pipe.zlexcount(index, low, high)
            ids, total = await pipe.execute()
        async with self.redis.pipeline(transaction=False) as pipe:
            for schedule_id in ids:
                pipe.hgetall(self.keys.schedule(schedule_id))
            records: list[dict[str, str]] = await pipe.execute()
        return [_view(r) for r in records if r], int(total)

    async def next_due_ms(self) -> int | None:
        first = await self.redis.zrange(self.keys.schedules_due, 0, 0, withscores=True)
        return int(first[0][1]) if first else None

    async def fire_due(self, *, batch: int = 100) -> int:
        """Claims every due slot (this replica's share of them) and enqueues its job; returns slots fired."""
        fired = 0
        while True:
            now = self.clock.now_ms()
            due_ids = cast(list[str], await self.redis.zrangebyscore(self.keys.schedules_due, "-inf", now, 0, batch))
            if not due_ids:
                return fired
            claimed_any = False
            for schedule_id in due_ids:
                if await self._claim(schedule_id, now):
                    fired += 1
                    claimed_any = True
            if not claimed_any:
                # Every due slot went to another replica (or changed under us); re-read what is due now.
                return fired

    async def _claim(self, schedule_id: str, now: int) -> bool:
        record = cast(dict[str, str], await self.redis.hgetall(self.keys.schedule(schedule_id)))
        if not record or not record.get("next_slot"):
            return False
        spec = ScheduleSpec.model_validate_json(record["spec"])
        stored_next = int(record["next_slot"])
        if stored_next > now:
            return False
        plan = plan_claim(
            Slots(spec, int(record["anchor"])), stored_next_ms=stored_next, runs=int(record["runs"]), now_ms=now
        )
        template = spec.template
        request = JobRequest(queue=spec.queue, name=template.name, payload=template.payload, options=template.options)
        job = new_job(request, now_ms=now, job_id=slot_job_id(schedule_id, plan.fire_ms), schedule_id=schedule_id)
        claimed, _ = await self.scripts.run(
            "claim_slot",
            schedule_id,
            record["version"],
            record["next_slot"],
            "" if plan.next_ms is None else plan.next_ms,
            *job.script_args(),
        )
        if claimed:
            log.info("schedule slot fired", schedule_id=schedule_id, slot=from_ms(plan.fire_ms).isoformat())
        return bool(claimed)
