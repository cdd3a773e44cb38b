"""Each window turns over at its own boundary, and each plan allows exactly its limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chartwise_contracts.usage import SetPlan, SetTimeZone
from chartwise_runtime.errors import InvalidInput, QuotaExceeded
from chartwise_usage import handlers
from chartwise_usage.bootstrap import Usage
from chartwise_usage.plans import SubscriptionState, Tier
from tests.integration.usage.conftest import MovableClock

TWO_A_DAY = (Tier(name="free", daily=2), Tier(name="pro", price_amount=2599, monthly=3, max_charts_per_analysis=3))


async def reserve_until_denied(
    usage: Usage, user_id: str, prefix: str, *, most: int = 2000
) -> tuple[int, dict[str, object]]:
    for i in range(most):
        try:
            await usage.quota.reserve(user_id=user_id, analysis_id=f"{prefix}{i}", units=1)
        except QuotaExceeded as denied:
            return i, denied.details
    raise AssertionError("never denied")


@pytest.mark.parametrize("tiers", [TWO_A_DAY])
async def test_daily_window_turns_over_at_midnight_utc(usage: Usage, clock: MovableClock) -> None:
    clock.at = datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC)
    granted, denial = await reserve_until_denied(usage, "u1", "d1-")
    assert (granted, denial["resets_at"]) == (2, "2026-11-22T00:00:00Z")

    clock.advance(timedelta(seconds=1))

    granted, _ = await reserve_until_denied(usage, "u1", "d2-")
    assert granted == 2


@pytest.mark.parametrize("tiers", [TWO_A_DAY])
async def test_daily_window_follows_the_users_time_zone(usage: Usage, clock: MovableClock) -> None:
    await handlers.set_time_zone(SetTimeZone.new(user_id="u1", time_zone="America/New_York"), usage)
    clock.at = datetime(2026, 11, 22, 4, 59, tzinfo=UTC)  # 23:59 in New York
    granted, denial = await reserve_until_denied(usage, "u1", "d1-")
    assert (granted, denial["resets_at"]) == (2, "2026-11-22T05:00:00Z")

    clock.at = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)

    granted, _ = await reserve_until_denied(usage, "u1", "d2-")
    assert granted == 2


async def test_an_unknown_time_zone_is_refused(usage: Usage) -> None:
    with pytest.raises(InvalidInput):
        await handlers.set_time_zone(SetTimeZone.new(user_id="u1", time_zone="Mars/Olympus"), usage)


async def test_calendar_month_turns_over_at_the_first_in_utc(usage: Usage, clock: MovableClock) -> None:
    await handlers.set_plan(SetPlan.new(user_id="u1", plan="basic"), usage)
    clock.at = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    granted, denial = await reserve_until_denied(usage, "u1", "nov-")
    assert (granted, denial["window"], denial["resets_at"]) == (100, "monthly", "2026-12-01T00:00:00Z")

    clock.at = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

    assert (await reserve_until_denied(usage, "u1", "dec-"))[0] == 100


@pytest.mark.parametrize("tiers", [TWO_A_DAY])
async def test_monthly_window_of_a_paying_user_follows_the_billing_period(usage: Usage, clock: MovableClock) -> None:
    await usage.accounts.link_customer("u1", "cus_1", now=clock.now())
    period_start = datetime(2026, 11, 15, 10, 30, tzinfo=UTC)
    await usage.stripe_sync._subscriptions.apply(
        SubscriptionState("sub_1", "cus_1", "active", "price_pro", 2599, period_start, None, version=1.0)
    )
    clock.at = datetime(2026, 12, 15, 10, 29, tzinfo=UTC)
    granted, denial = await reserve_until_denied(usage, "u1", "p1-")
    assert (granted, denial["resets_at"]) == (3, "2026-12-15T10:30:00Z")

    clock.at = datetime(2026, 12, 15, 10, 30, tzinfo=UTC)

    granted, denial = await reserve_until_denied(usage, "u1", "p2-")
    assert (granted, denial["resets_at"]) == (3, "2027-01-15T10:30:00Z")


@pytest.mark.parametrize(
    ("plan", "window", "limit", "max_charts"),
    [
        ("free", "monthly", 6, 1),
        ("basic", "monthly", 100, 1),
        ("pro", "monthly", 500, 3),
        ("elite", "monthly", 1000, 3),
    ],
)
async def test_each_plan_grants_exactly_its_limit(
    usage: Usage, plan: str, window: str, limit: int, max_charts: int
) -> None:
    await handlers.set_plan(SetPlan.new(user_id="u1", plan=plan), usage)
    first = await usage.quota.reserve(user_id="u1", analysis_id="first", units=1)

    granted, denial = await reserve_until_denied(usage, "u1", "a")

    assert (granted + 1, denial["window"], denial["limit"], denial["plan"]) == (limit, window, limit, plan)
    assert first.max_charts_per_analysis == max_charts


async def test_setting_an_unknown_plan_is_refused(usage: Usage) -> None:
    with pytest.raises(InvalidInput):
        await handlers.set_plan(SetPlan.new(user_id="u1", plan="platinum"), usage)


async def test_clearing_the_admin_plan_returns_the_user_to_free(usage: Usage) -> None:
    await handlers.set_plan(SetPlan.new(user_id="u1", plan="elite"), usage)

    details = await handlers.set_plan(SetPlan.new(user_id="u1", plan=None), usage)

    assert (details.plan, details.source, details.monthly_limit, details.total_limit) == ("free", "free", 6, 6)
