"""Which plan applies to a user: computed from MongoDB, cached in Redis for the reservation path."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from chartwise_contracts.usage import PlanSource
from chartwise_usage.clock import Clock
from chartwise_usage.ledger import PREFIX
from chartwise_usage.plans import EffectivePlan, PlanTable, effective_plan
from chartwise_usage.storage import Accounts, Subscriptions

LOCAL_CACHE_SIZE = 100_000


def plan_cache_key(user_id: str) -> str:
    return f"{PREFIX}plan:{user_id}"


class PlanDirectory:
    def __init__(
        self,
        *,
        accounts: Accounts,
        subscriptions: Subscriptions,
        table: PlanTable,
        redis: Redis,
        clock: Clock,
        cache_ttl: timedelta,
        local_ttl: timedelta = timedelta(seconds=2),
    ) -> None:
        self._accounts = accounts
        self._subscriptions = subscriptions
        self._table = table
        self._redis = redis
        self._clock = clock
        self._cache_ttl_ms = int(cache_ttl.total_seconds() * 1000)
        # A short in-process layer saves the reservation path a round trip; another replica's plan change
        # reaches this one within `local_ttl`.
        self._local_ttl_s = local_ttl.total_seconds()
        self._local: dict[str, tuple[float, EffectivePlan]] = {}

    @property
    def table(self) -> PlanTable:
        return self._table

    async def current(self, user_id: str) -> EffectivePlan:
        """The plan that applies now, from MongoDB; creates a free account for a user not seen before."""
        account = await self._accounts.get(user_id)
        if account is None:
            account = await self._accounts.ensure(user_id, now=self._clock.now())
        subscriptions = await self._subscriptions.for_customer(account.customer_id) if account.customer_id else []
        return effective_plan(
            self._table, manual_plan=account.manual_plan, time_zone=account.time_zone, subscriptions=subscriptions
        )

    async def for_quota(self, user_id: str) -> EffectivePlan:
        """The plan for checking quota: the cached tier, source, zone and billing anchor (no subscription)."""
        now = time.monotonic()
        local = self._local.get(user_id)
        if local is not None and local[0] > now:
            return local[1]
        cached = await self._redis.get(plan_cache_key(user_id))
        plan = self._decode(str(cached)) if cached is not None else None
        if plan is None:
            plan = await self.current(user_id)
            await self._redis.set(plan_cache_key(user_id), self._encode(plan), px=self._cache_ttl_ms)
        if len(self._local) >= LOCAL_CACHE_SIZE:
            self._local.clear()
        self._local[user_id] = (now + self._local_ttl_s, plan)
        return plan

    async def forget(self, *user_ids: str) -> None:
        """Drops cached plans after their inputs changed, so the next reservation recomputes them."""
        for user_id in user_ids:
            self._local.pop(user_id, None)
        if user_ids:
            await self._redis.delete(*(plan_cache_key(u) for u in user_ids))

    @staticmethod
    def _encode(plan: EffectivePlan) -> str:
        anchor = plan.billing_anchor.timestamp() if plan.billing_anchor else None
        return json.dumps({"tier": plan.tier.name, "source": plan.source.value, "tz": plan.time_zone, "anchor": anchor})

    def _decode(self, raw: str) -> EffectivePlan | None:
        data = json.loads(raw)
        tier = self._table.get(data["tier"])
        if tier is None:
            return None
        anchor = datetime.fromtimestamp(data["anchor"], tz=UTC) if data["anchor"] is not None else None
        return EffectivePlan(tier, PlanSource(data["source"]), data["tz"], anchor, None)
