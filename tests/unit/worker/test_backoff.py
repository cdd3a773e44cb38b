"""Retry delays follow the job's backoff policy."""

from __future__ import annotations

import random

from chartwise_contracts.jobs import Backoff
from chartwise_runtime.worker import retry_delay_ms


def test_fixed_backoff_waits_the_same_after_every_attempt() -> None:
    backoff = Backoff(kind="fixed", delay_ms=500, jitter=0)
    assert [retry_delay_ms(backoff, n) for n in (1, 2, 5)] == [500, 500, 500]


def test_exponential_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(kind="exponential", delay_ms=100, max_delay_ms=1_000, jitter=0)
    assert [retry_delay_ms(backoff, n) for n in (1, 2, 3, 4, 5, 80)] == [100, 200, 400, 800, 1_000, 1_000]


def test_jitter_only_shortens_the_delay_within_its_fraction() -> None:
    backoff = Backoff(kind="exponential", delay_ms=1_000, jitter=0.2)
    rng = random.Random(7)
    delays = [retry_delay_ms(backoff, 1, rng=rng) for _ in range(200)]
    assert all(800 <= delay <= 1_000 for delay in delays)
    assert len(set(delays)) > 50
