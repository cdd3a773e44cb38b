"""Workers in a service's lifecycle: started once the broker runs, drained when the service shuts down.

uvicorn turns SIGTERM into the ASGI lifespan shutdown, which runs `on_shutdown` before the broker stops,
so every service process drains its workers on SIGTERM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chartwise_runtime.worker.worker import Worker

LifecycleHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WorkerHooks:
    after_startup: Sequence[LifecycleHook]
    on_shutdown: Sequence[LifecycleHook]


def worker_hooks(*workers: Worker[Any], drain_timeout_s: float) -> WorkerHooks:
    """Hooks for `ServiceRuntime.app(after_startup=..., on_shutdown=...)` that start and drain `workers`."""

    async def start() -> None:
        for worker in workers:
            await worker.start()

    async def stop() -> None:
        await asyncio.gather(*(worker.stop(drain_timeout_s) for worker in workers))

    return WorkerHooks(after_startup=[start], on_shutdown=[stop])
