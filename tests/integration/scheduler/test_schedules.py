"""Recurring schedules on an injected clock: cron in a time zone, intervals, upsert by id, replicas, downtime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from chartwise_contracts.scheduler import JobTemplate, ScheduleSpec
from chartwise_scheduler.clock import ManualClock
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore
from chartwise_scheduler.timer import Timer
from tests.integration.scheduler.helpers import queued

LONDON_9AM = "0 9 * * *"


def cron(schedule_id: str, pattern: str, **fields: object) -> ScheduleSpec:
    return ScheduleSpec(schedule_id=schedule_id, queue="q", cron=pattern, template=JobTemplate(name="tick"), **fields)


def interval(schedule_id: str, every_ms: int, **fields: object) -> ScheduleSpec:
    return ScheduleSpec(
        schedule_id=schedule_id, queue="q", every_ms=every_ms, template=JobTemplate(name="tick"), **fields
    )


async def slots_fired(redis: Redis) -> list[str]:
    return [j.job_id for j in await queued(redis, "q")]


async def test_cron_fires_at_the_local_time_of_its_zone_across_a_clock_change(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    # London moves to summer time on 2026-03-29: 09:00 local is 09:00 UTC before and 08:00 UTC after.
    view, created, _ = await manual_schedules.upsert(cron("daily", LONDON_9AM, tz="Europe/London"))
    fired_at: list[datetime] = []
    for _ in range(3):
        assert view.next_run_at is not None
        manual_clock.set(view.next_run_at - timedelta(milliseconds=1))
        await manual_timer.tick()
        assert len(await slots_fired(manual_schedules.redis)) == len(fired_at), "fired early"
        manual_clock.set(view.next_run_at)
        await manual_timer.tick()
        fired_at.append(view.next_run_at)
        refreshed = await manual_schedules.get("daily")
        assert refreshed is not None
        view = refreshed

    assert created
    assert [t.astimezone(UTC).hour for t in fired_at] == [8, 8, 8]
    assert [t.astimezone(UTC).day for t in fired_at] == [29, 30, 31]
    assert len(await slots_fired(manual_schedules.redis)) == 3
    assert view.runs == 3


async def test_six_field_cron_counts_seconds_first(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    view, _, _ = await manual_schedules.upsert(cron("every-15s", "*/15 * * * * *"))

    assert view.next_run_at == datetime(2026, 3, 28, 12, 0, 0, tzinfo=UTC)
    manual_clock.advance_ms(20_000)
    await manual_timer.tick()
    after = await manual_schedules.get("every-15s")
    assert after is not None
    assert after.next_run_at == datetime(2026, 3, 28, 12, 0, 30, tzinfo=UTC)


async def test_interval_fires_every_period_up_to_its_run_limit(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    await manual_schedules.upsert(interval("poll", 10_000, limit=3))

    for _ in range(5):
        await manual_timer.tick()
        manual_clock.advance_ms(10_000)

    fired = await slots_fired(manual_schedules.redis)
    view = await manual_schedules.get("poll")
    start = int(datetime(2026, 3, 28, 12, 0, tzinfo=UTC).timestamp() * 1000)
    assert fired == [f"sched:poll:{start + i * 10_000}" for i in range(3)]
    assert view is not None
    assert view.ended
    assert view.runs == 3
    assert view.next_run_at is None


async def test_same_schedule_id_upserted_twice_yields_one_schedule(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    spec = interval("poll", 10_000)
    _, created_first, _ = await manual_schedules.upsert(spec)
    _, created_again, replaced = await manual_schedules.upsert(spec)
    await manual_timer.tick()

    listed, total = await manual_schedules.list(queue=None, offset=0, limit=10)
    assert created_first
    assert not created_again
    assert not replaced
    assert total == 1
    assert [s.schedule_id for s in listed] == ["poll"]
    assert len(await slots_fired(manual_schedules.redis)) == 1


async def test_changed_pattern_replaces_the_old_schedule(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    await manual_schedules.upsert(cron("report", "0 * * * *"))
    view, created, replaced = await manual_schedules.upsert(cron("report", "30 * * * *"))

    manual_clock.set(datetime(2026, 3, 28, 13, 0, tzinfo=UTC))
    await manual_timer.tick()
    at_the_hour = await slots_fired(manual_schedules.redis)
    manual_clock.set(datetime(2026, 3, 28, 12, 30, tzinfo=UTC) + timedelta(hours=1))
    await manual_timer.tick()

    assert not created
    assert replaced
    assert view.cron == "30 * * * *"
    assert view.next_run_at == datetime(2026, 3, 28, 12, 30, tzinfo=UTC)
    # 12:30 fired at 13:00 as the one missed slot; the old 13:00 pattern never fired.
    assert len(at_the_hour) == 1
    assert at_the_hour[0].endswith(str(int(view.next_run_at.timestamp() * 1000)))
    assert len(await slots_fired(manual_schedules.redis)) == 2
    _, total = await manual_schedules.list(queue="q", offset=0, limit=10)
    assert total == 1


async def test_missed_slots_fire_once_after_downtime(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    await manual_schedules.upsert(cron("minutely", "* * * * *"))
    manual_clock.advance_ms(10 * 60_000 + 5_000)  # down for ten slots

    await manual_timer.tick()
    await manual_timer.tick()

    fired = await slots_fired(manual_schedules.redis)
    latest = int(datetime(2026, 3, 28, 12, 10, tzinfo=UTC).timestamp() * 1000)
    assert fired == [f"sched:minutely:{latest}"]
    view = await manual_schedules.get("minutely")
    assert view is not None
    assert view.next_run_at == datetime(2026, 3, 28, 12, 11, tzinfo=UTC)


async def test_catch_up_fires_every_missed_slot(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    await manual_schedules.upsert(cron("minutely", "* * * * *", catch_up=True))
    manual_clock.advance_ms(3 * 60_000)

    await manual_timer.tick()

    assert len(await slots_fired(manual_schedules.redis)) == 4  # 12:00, 12:01, 12:02, 12:03


async def test_two_replicas_fire_each_slot_exactly_once(
    text_redis: Redis, redis_url: str, manual_clock: ManualClock
) -> None:
    other: Redis = Redis.from_url(redis_url, decode_responses=True)
    replicas = []
    for client in (text_redis, other):
        jobs = JobStore(client, manual_clock)
        schedules = ScheduleStore(client, manual_clock, jobs.scripts, jobs.keys)
        replicas.append((schedules, Timer(jobs, schedules, manual_clock)))
    try:
        await replicas[0][0].upsert(interval("fast", 1_000))
        await replicas[1][0].upsert(interval("fast", 1_000))
        for _ in range(60):
            await asyncio.gather(*(timer.tick() for _, timer in replicas), *(timer.tick() for _, timer in replicas))
            manual_clock.advance_ms(1_000)
    finally:
        await other.aclose()

    fired = await slots_fired(text_redis)
    assert len(fired) == 60
    assert len(set(fired)) == 60


async def test_removed_schedule_stops_firing(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    await manual_schedules.upsert(interval("poll", 10_000))
    await manual_timer.tick()

    removed = await manual_schedules.remove("poll")
    manual_clock.advance_ms(60_000)
    await manual_timer.tick()

    assert removed
    assert not await manual_schedules.remove("poll")
    assert len(await slots_fired(manual_schedules.redis)) == 1
