"""Which plan applies: admin choice, then an entitled Stripe subscription, else free."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chartwise_contracts.usage import PlanSource
from chartwise_usage.plans import DEFAULT_TIERS, PlanTable, SubscriptionState, Tier, effective_plan
from chartwise_usage.stripe_payloads import Subscription
from chartwise_usage.stripe_sync import subscription_state

TABLE = PlanTable(DEFAULT_TIERS)


def sub(status: str, amount: int | None = 2599, *, sub_id: str = "sub_1", version: float = 1.0) -> SubscriptionState:
    start = datetime(2026, 11, 15, tzinfo=UTC)
    return SubscriptionState(sub_id, "cus_1", status, None, amount, start, None, version)


@pytest.mark.parametrize(
    ("status", "plan"),
    [
        ("active", "pro"),
        ("trialing", "pro"),
        ("past_due", "pro"),
        ("unpaid", "free"),
        ("canceled", "free"),
        ("incomplete", "free"),
        ("incomplete_expired", "free"),
        ("paused", "free"),
    ],
)
def test_a_plan_applies_only_while_the_subscription_is_entitled(status: str, plan: str) -> None:
    assert effective_plan(TABLE, manual_plan=None, time_zone="UTC", subscriptions=[sub(status)]).tier.name == plan


def test_an_admin_plan_wins_over_stripe_and_uses_the_calendar_month() -> None:
    chosen = effective_plan(TABLE, manual_plan="elite", time_zone="UTC", subscriptions=[sub("active")])

    assert (chosen.tier.name, chosen.source, chosen.billing_anchor) == ("elite", PlanSource.ADMIN, None)


def test_a_paying_user_is_anchored_on_the_billing_period() -> None:
    chosen = effective_plan(TABLE, manual_plan=None, time_zone="UTC", subscriptions=[sub("active")])

    assert (chosen.source, chosen.billing_anchor) == (PlanSource.STRIPE, datetime(2026, 11, 15, tzinfo=UTC))


def test_the_best_entitled_subscription_of_several_is_used() -> None:
    subscriptions = [sub("canceled", 3999, sub_id="old", version=9), sub("active", 999, sub_id="new")]

    assert effective_plan(TABLE, manual_plan=None, time_zone="UTC", subscriptions=subscriptions).tier.name == "basic"


def test_a_price_the_table_does_not_know_gives_free() -> None:
    assert (
        effective_plan(TABLE, manual_plan=None, time_zone="UTC", subscriptions=[sub("active", 1)]).tier.name == "free"
    )


def test_configured_price_ids_take_precedence_over_amounts() -> None:
    table = PlanTable((Tier(name="free"), Tier(name="pro", price_amount=999, stripe_price_ids=("price_pro",))))

    assert table.for_price("price_pro", 12345) is not None
    assert table.for_price("price_other", 999).name == "pro"


def test_a_tier_table_without_free_is_refused() -> None:
    with pytest.raises(ValueError, match="free"):
        PlanTable((Tier(name="pro"),))


def test_subscription_period_is_read_from_the_item_in_newer_api_versions() -> None:
    obj = {
        "id": "sub_1",
        "customer": {"id": "cus_1", "object": "customer"},
        "status": "canceled",
        "items": {"data": [{"price": {"id": "price_1", "unit_amount": 999}, "current_period_start": 1_700_000_000}]},
    }

    state = subscription_state(Subscription.model_validate(obj), version=100.0)

    assert (state.customer_id, state.price_amount, state.version) == ("cus_1", 999, 100.5)
    assert state.period_start == datetime.fromtimestamp(1_700_000_000, tz=UTC)
