"""The tier table and the rules that turn a user's account into the plan that applies now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chartwise_contracts.usage import PlanSource

FREE_PLAN = "free"

# Stripe statuses that keep a paid plan. `trialing` is a trial we chose to offer, so it grants the plan;
# `past_due` means Stripe is still retrying the payment, so the user keeps the plan until Stripe gives up
# and moves the subscription to `unpaid` or `canceled`.
ENTITLED_STATUSES = frozenset({"active", "trialing", "past_due"})


class Tier(BaseModel):
    """One row of the tier table; a limit of None means unlimited."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64)
    price_amount: int | None = Field(default=None, ge=0, description="Stripe unit amount (pence) that selects it.")
    stripe_price_ids: tuple[str, ...] = ()
    daily: int | None = Field(default=None, ge=0)
    monthly: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)
    max_charts_per_analysis: int = Field(default=1, ge=1)


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(name=FREE_PLAN, monthly=6, total=6, max_charts_per_analysis=1),
    Tier(name="basic", price_amount=999, monthly=100, max_charts_per_analysis=1),
    Tier(name="pro", price_amount=2599, monthly=500, max_charts_per_analysis=3),
    Tier(name="elite", price_amount=3999, monthly=1000, max_charts_per_analysis=3),
)


class PlanTable:
    def __init__(self, tiers: tuple[Tier, ...]) -> None:
        self._by_name = {tier.name: tier for tier in tiers}
        if FREE_PLAN not in self._by_name:
            raise ValueError("the tier table needs a 'free' tier")

    @property
    def free(self) -> Tier:
        return self._by_name[FREE_PLAN]

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> Tier | None:
        return self._by_name.get(name)

    def for_price(self, price_id: str | None, amount: int | None) -> Tier | None:
        """The tier a Stripe price buys: by configured price id first, then by unit amount."""
        for tier in self._by_name.values():
            if price_id and price_id in tier.stripe_price_ids:
                return tier
        for tier in self._by_name.values():
            if amount is not None and tier.price_amount == amount:
                return tier
        return None


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A Stripe subscription as last known locally."""

    subscription_id: str
    customer_id: str
    status: str
    price_id: str | None
    price_amount: int | None
    period_start: datetime | None
    period_end: datetime | None
    version: float


@dataclass(frozen=True, slots=True)
class EffectivePlan:
    """The plan that applies to a user now, and what anchors their monthly window."""

    tier: Tier
    source: PlanSource
    time_zone: str
    billing_anchor: datetime | None
    subscription: SubscriptionState | None


def effective_plan(
    table: PlanTable,
    *,
    manual_plan: str | None,
    time_zone: str,
    subscriptions: list[SubscriptionState],
) -> EffectivePlan:
    """An admin-set plan wins; else the best entitled Stripe subscription; else free."""
    best = _best_subscription(table, subscriptions)
    if manual_plan is not None and (tier := table.get(manual_plan)) is not None:
        return EffectivePlan(tier, PlanSource.ADMIN, time_zone, None, best)
    if best is not None:
        tier = table.for_price(best.price_id, best.price_amount)
        if tier is not None and best.status in ENTITLED_STATUSES:
            return EffectivePlan(tier, PlanSource.STRIPE, time_zone, best.period_start, best)
    return EffectivePlan(table.free, PlanSource.FREE, time_zone, None, best)


def _best_subscription(table: PlanTable, subscriptions: list[SubscriptionState]) -> SubscriptionState | None:
    """The entitled subscription with the largest monthly allowance, else the most recently changed one."""
    if not subscriptions:
        return None
    entitled = [
        s for s in subscriptions if s.status in ENTITLED_STATUSES and table.for_price(s.price_id, s.price_amount)
    ]
    if entitled:
        return max(entitled, key=lambda s: _allowance(table.for_price(s.price_id, s.price_amount)))
    return max(subscriptions, key=lambda s: s.version)


def _allowance(tier: Tier | None) -> int:
    if tier is None:
        return -1
    return tier.monthly if tier.monthly is not None else 2**62
