"""Reservations never pass a limit, count once, and end as usage or released units."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from chartwise_contracts.usage import QuotaWindow
from chartwise_runtime.errors import Conflict, QuotaExceeded
from chartwise_runtime.mongo import Database
from chartwise_usage.bootstrap import Usage
from chartwise_usage.plans import Tier
from tests.integration.usage.conftest import MovableClock

TEN_A_MONTH = (Tier(name="free", monthly=10),)


async def usage_of(usage: Usage, user_id: str) -> dict[QuotaWindow, tuple[int, int]]:
    """(used, reserved) per window."""
    plan = await usage.directory.current(user_id)
    return {w.window: (w.used, w.reserved) for w in await usage.quota.usage(user_id, plan)}


async def grant(usage: Usage, user_id: str, analysis_id: str) -> bool:
    try:
        await usage.quota.reserve(user_id=user_id, analysis_id=analysis_id, units=1)
    except QuotaExceeded:
        return False
    return True


@pytest.mark.parametrize("tiers", [TEN_A_MONTH])
async def test_200_concurrent_reservations_against_a_limit_of_10_grant_exactly_10(usage: Usage) -> None:
    results = await asyncio.gather(*(grant(usage, "u1", f"a{i}") for i in range(200)))

    assert sum(results) == 10
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (0, 10)


async def test_concurrent_requests_for_the_same_analysis_reserve_once_and_get_the_same_answer(usage: Usage) -> None:
    answers = await asyncio.gather(*(usage.quota.reserve(user_id="u1", analysis_id="a1", units=1) for _ in range(5)))

    assert all(answer == answers[0] for answer in answers)
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (0, 1)


async def test_concurrent_first_reservations_of_many_users_each_load_and_count_once(usage: Usage) -> None:
    users = [f"u{n}" for n in range(20)]

    await asyncio.gather(
        *(usage.quota.reserve(user_id=user, analysis_id=f"{user}-a{i}", units=1) for user in users for i in range(3))
    )

    for user in users:
        assert (await usage_of(usage, user))[QuotaWindow.MONTHLY] == (0, 3)


@pytest.mark.parametrize("tiers", [TEN_A_MONTH])
async def test_a_full_user_does_not_hold_back_others_reserving_at_the_same_time(usage: Usage) -> None:
    for i in range(10):
        await usage.quota.reserve(user_id="full", analysis_id=f"f{i}", units=1)

    results = await asyncio.gather(*(grant(usage, user, f"{user}-{i}") for i in range(5) for user in ("full", "other")))

    assert results == [False, True] * 5
    assert (await usage_of(usage, "other"))[QuotaWindow.MONTHLY] == (0, 5)


async def test_asking_twice_for_the_same_analysis_answers_the_same_and_reserves_once(usage: Usage) -> None:
    first = await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)
    second = await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)

    assert first == second
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (0, 1)


async def test_a_repeated_denied_request_gets_the_same_denial(usage: Usage, clock: MovableClock) -> None:
    for i in range(6):
        await usage.quota.reserve(user_id="u1", analysis_id=f"a{i}", units=1)
    with pytest.raises(QuotaExceeded) as first:
        await usage.quota.reserve(user_id="u1", analysis_id="over", units=1)
    await usage.quota.release(analysis_id="a0", reason="failed")

    with pytest.raises(QuotaExceeded) as second:
        await usage.quota.reserve(user_id="u1", analysis_id="over", units=1)

    assert first.value.details == second.value.details


async def test_denial_names_the_window_its_limit_the_amount_used_and_when_it_resets(usage: Usage) -> None:
    for i in range(6):
        await usage.quota.reserve(user_id="u1", analysis_id=f"a{i}", units=1)

    with pytest.raises(QuotaExceeded) as denied:
        await usage.quota.reserve(user_id="u1", analysis_id="a6", units=1)

    assert denied.value.details == {
        "window": "monthly",
        "limit": 6,
        "used": 6,
        "requested": 1,
        "resets_at": "2026-12-01T00:00:00Z",
        "plan": "free",
    }


async def test_an_analysis_id_reserved_by_one_user_is_refused_to_another(usage: Usage) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)

    with pytest.raises(Conflict):
        await usage.quota.reserve(user_id="u2", analysis_id="a1", units=1)


async def test_completion_turns_the_reservation_into_durable_usage_once(
    usage: Usage, mongo_db: Database, clock: MovableClock
) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)

    first = await usage.quota.commit(analysis_id="a1", user_id="u1", at=clock.now())
    again = await usage.quota.commit(analysis_id="a1", user_id="u1", at=clock.now())

    assert (first, again) == ("committed", "already-committed")
    assert (await usage_of(usage, "u1"))[QuotaWindow.TOTAL] == (1, 0)
    stored = await mongo_db.usage.find({"user_id": "u1"}).to_list()
    assert [(d["_id"], d["units"], d["counted"]) for d in stored] == [("a1", 1, True)]


async def test_failure_releases_the_reservation_once(usage: Usage) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)
    await usage.quota.reserve(user_id="u1", analysis_id="a2", units=1)

    first = await usage.quota.release(analysis_id="a1", reason="failed")
    again = await usage.quota.release(analysis_id="a1", reason="failed")

    assert (first, again) == ("released", "already-released")
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (0, 1)


async def test_a_failed_analysis_that_later_reports_completion_is_not_counted(
    usage: Usage, clock: MovableClock
) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)
    await usage.quota.release(analysis_id="a1", reason="failed")

    outcome = await usage.quota.commit(analysis_id="a1", user_id="u1", at=clock.now())

    assert outcome == "released"
    assert (await usage_of(usage, "u1"))[QuotaWindow.TOTAL] == (0, 0)


async def test_released_quota_can_be_reserved_again(usage: Usage) -> None:
    for i in range(6):
        await usage.quota.reserve(user_id="u1", analysis_id=f"a{i}", units=1)
    await usage.quota.release(analysis_id="a3", reason="cancelled")

    assert await grant(usage, "u1", "a6")
    assert not await grant(usage, "u1", "a7")


async def test_expired_reservations_are_released_by_the_sweep(usage: Usage, clock: MovableClock) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="old", units=1)
    clock.advance(timedelta(minutes=9))
    await usage.quota.reserve(user_id="u1", analysis_id="recent", units=1)
    clock.advance(timedelta(minutes=2))

    released = await usage.quota.release_expired()
    again = await usage.quota.release_expired()

    assert (released, again) == (1, 0)
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (0, 1)


async def test_a_completion_arriving_after_expiry_still_counts_once(usage: Usage, clock: MovableClock) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="a1", units=1)
    clock.advance(timedelta(minutes=11))
    await usage.quota.release_expired()

    await usage.quota.commit(analysis_id="a1", user_id="u1", at=clock.now())
    await usage.quota.commit(analysis_id="a1", user_id="u1", at=clock.now())

    assert (await usage_of(usage, "u1"))[QuotaWindow.TOTAL] == (1, 0)


async def test_a_completion_without_a_known_reservation_counts_once(
    usage: Usage, mongo_db: Database, clock: MovableClock
) -> None:
    await usage.quota.reserve(user_id="u1", analysis_id="other", units=1)

    await usage.quota.commit(analysis_id="lost", user_id="u1", at=clock.now())
    await usage.quota.commit(analysis_id="lost", user_id="u1", at=clock.now())

    assert (await usage_of(usage, "u1"))[QuotaWindow.TOTAL] == (1, 1)
    assert await mongo_db.usage.count_documents({"_id": "lost", "counted": True}) == 1


async def test_counters_lost_from_redis_are_rebuilt_from_the_usage_records(
    usage: Usage, text_redis: Redis, clock: MovableClock
) -> None:
    for i in range(5):
        await usage.quota.reserve(user_id="u1", analysis_id=f"a{i}", units=1)
        await usage.quota.commit(analysis_id=f"a{i}", user_id="u1", at=clock.now())
    await text_redis.flushdb()

    assert await grant(usage, "u1", "a5")
    assert not await grant(usage, "u1", "a6")
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (5, 1)


async def test_the_lifetime_total_of_the_free_plan_outlasts_the_month(usage: Usage, clock: MovableClock) -> None:
    for i in range(6):
        await usage.quota.reserve(user_id="u1", analysis_id=f"a{i}", units=1)
        await usage.quota.commit(analysis_id=f"a{i}", user_id="u1", at=clock.now())
    clock.at = datetime(2027, 1, 10, tzinfo=UTC)

    with pytest.raises(QuotaExceeded) as denied:
        await usage.quota.reserve(user_id="u1", analysis_id="next-year", units=1)

    assert denied.value.details["window"] == "total"
    assert denied.value.details["resets_at"] is None
    assert (await usage_of(usage, "u1"))[QuotaWindow.MONTHLY] == (0, 0)
