"""Recurring in-process work that runs once per interval slot across all replicas (a Redis lock per slot)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from chartwise_runtime.logging import get_logger
from chartwise_usage.ledger import PREFIX

log = get_logger(__name__)

Job = Callable[[], Awaitable[object]]


async def claim_slot(redis: Redis, *, name: str, slot: int, owner: str, interval_s: float) -> bool:
    """True for exactly one caller per (name, slot): the one whose SET NX succeeded."""
    claimed = await redis.set(f"{PREFIX}lock:{name}:{slot}", owner, nx=True, px=int(interval_s * 2000))
    return bool(claimed)


async def run_each_slot(redis: Redis, *, name: str, interval_s: float, owner: str, job: Job) -> None:
    """Runs `job` in every interval slot this replica wins, until cancelled."""
    while True:
        slot = int(time.time() // interval_s)
        if await claim_slot(redis, name=name, slot=slot, owner=owner, interval_s=interval_s):
            try:
                await job()
            except Exception:  # one failed run must not end the schedule; the next slot retries
                log.exception("periodic job failed", job=name, slot=slot)
        await asyncio.sleep(max((slot + 1) * interval_s - time.time(), 0.0))
