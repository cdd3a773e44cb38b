"""Runs a FastStream ASGI app's lifespan in a task of its own, so fixtures can start and stop it.

AnyIO cancel scopes must be left in the task that entered them, while pytest may run a fixture's set-up
and tear-down in different tasks; a dedicated task that owns the lifespan sidesteps that. FastStream's
lifespan context yields before its brokers have started, so `running` also waits until every broker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from faststream.asgi import AsgiFastStream

from chartwise_devtools.waiting import eventually

START_TIMEOUT_S = 30.0


@contextlib.asynccontextmanager
async def running(app: AsgiFastStream) -> AsyncIterator[AsgiFastStream]:
    started = asyncio.Event()
    stop = asyncio.Event()

    async def own_lifespan() -> None:
        async with app.start_lifespan_context():
            started.set()
            await stop.wait()

    task = asyncio.create_task(own_lifespan())
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise RuntimeError("the app stopped during start-up")
    try:
        await eventually(
            lambda: task.done() or all(broker.running for broker in app.brokers),
            timeout=START_TIMEOUT_S,
            message="the app's brokers did not start",
        )
        if task.done():
            task.result()
            raise RuntimeError("the app stopped during start-up")
        yield app
    finally:
        stop.set()
        await task
