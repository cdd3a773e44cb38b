"""Recurring work runs once per interval slot however many replicas try."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from chartwise_usage.periodic import claim_slot


async def test_only_one_replica_claims_each_slot(text_redis: Redis) -> None:
    claims = await asyncio.gather(
        *(claim_slot(text_redis, name="sweep", slot=7, owner=f"replica-{i}", interval_s=30) for i in range(5))
    )
    next_slot = await claim_slot(text_redis, name="sweep", slot=8, owner="replica-0", interval_s=30)

    assert sum(claims) == 1
    assert next_slot is True
