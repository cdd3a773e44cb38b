"""When a failed job runs again: its backoff policy applied to the attempt that failed."""

from __future__ import annotations

import random

from chartwise_contracts.jobs import Backoff


def retry_delay_ms(backoff: Backoff, failed_attempt: int, *, rng: random.Random | None = None) -> int:
    """Delay before the run after `failed_attempt` (1-based); jitter only ever shortens the delay."""
    if backoff.kind == "fixed":
        delay = float(backoff.delay_ms)
    else:
        delay = min(float(backoff.delay_ms) * 2.0 ** min(failed_attempt - 1, 62), float(backoff.max_delay_ms))
    if backoff.jitter:
        delay -= delay * backoff.jitter * (rng or random).random()
    return max(0, round(delay))
