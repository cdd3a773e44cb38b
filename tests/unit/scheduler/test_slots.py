"""Slot arithmetic of schedules, and how job events are told apart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chartwise_contracts.jobs import JobActive, JobCompleted, JobFailed
from chartwise_contracts.scheduler import JobTemplate, ScheduleSpec
from chartwise_runtime.errors import InvalidInput
from chartwise_scheduler.clock import to_ms
from chartwise_scheduler.events import parse_job_event
from chartwise_scheduler.slots import Slots, plan_claim, timing_fingerprint, validate_timing

T0 = to_ms(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


def spec(**fields: object) -> ScheduleSpec:
    return ScheduleSpec(schedule_id="s", queue="q", template=JobTemplate(name="n"), **fields)


def test_interval_slots_count_from_the_anchor() -> None:
    slots = Slots(spec(every_ms=10_000), anchor_ms=T0)

    assert slots.first_at_or_after(T0 - 5) == T0
    assert slots.first_at_or_after(T0 + 1) == T0 + 10_000
    assert slots.latest_at_or_before(T0 + 25_000) == T0 + 20_000
    assert slots.latest_at_or_before(T0 - 1) is None


def test_slots_stop_at_the_end_time() -> None:
    slots = Slots(spec(every_ms=10_000, end_at=datetime(2026, 1, 1, 12, 0, 15, tzinfo=UTC)), anchor_ms=T0)

    assert slots.first_after(T0) == T0 + 10_000
    assert slots.first_after(T0 + 10_000) is None


def test_missed_slots_collapse_to_the_latest_unless_catching_up() -> None:
    collapsed = plan_claim(Slots(spec(every_ms=1_000), T0), stored_next_ms=T0, runs=0, now_ms=T0 + 5_500)
    caught_up = plan_claim(Slots(spec(every_ms=1_000, catch_up=True), T0), stored_next_ms=T0, runs=0, now_ms=T0 + 5_500)

    assert (collapsed.fire_ms, collapsed.next_ms) == (T0 + 5_000, T0 + 6_000)
    assert (caught_up.fire_ms, caught_up.next_ms) == (T0, T0 + 1_000)


def test_run_limit_ends_the_schedule_on_its_last_run() -> None:
    claim = plan_claim(Slots(spec(every_ms=1_000, limit=2), T0), stored_next_ms=T0, runs=1, now_ms=T0)

    assert claim.next_ms is None


def test_invalid_cron_and_zone_are_refused() -> None:
    with pytest.raises(InvalidInput):
        validate_timing(spec(cron="61 * * * *"))
    with pytest.raises(InvalidInput):
        validate_timing(spec(cron="0 * * * *", tz="Mars/Olympus"))


def test_template_changes_keep_the_timing_fingerprint() -> None:
    a = spec(cron="0 * * * *")
    b = ScheduleSpec(schedule_id="s", queue="q", cron="0 * * * *", template=JobTemplate(name="other"))

    assert timing_fingerprint(a) == timing_fingerprint(b)
    assert timing_fingerprint(a) != timing_fingerprint(spec(cron="5 * * * *"))


def test_job_events_are_told_apart_by_kind_or_by_their_fields() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    active = JobActive.new(job_id="j", queue="q", name="n", attempt=1, worker="w", started_at=at)
    failed = JobFailed.new(job_id="j", queue="q", name="n", attempt=1, error="x", finished_at=at)
    done = JobCompleted.new(job_id="j", queue="q", name="n", attempt=1, finished_at=at)
    without_kind = {k: v for k, v in failed.model_dump(mode="json").items() if k != "kind"}

    assert isinstance(parse_job_event(active.model_dump(mode="json")), JobActive)
    assert isinstance(parse_job_event(done.model_dump(mode="json")), JobCompleted)
    assert isinstance(parse_job_event(without_kind), JobFailed)
