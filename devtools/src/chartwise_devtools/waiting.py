"""Waiting on conditions in tests, never on fixed sleeps."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

POLL_INTERVAL_S = 0.01


async def eventually(probe: Callable[[], object], *, timeout: float = 5.0, message: str = "condition not met") -> Any:
    """Polls `probe` until it returns a truthy value, and returns it; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{message} within {timeout:g}s (last value: {value!r})")
        await asyncio.sleep(POLL_INTERVAL_S)
