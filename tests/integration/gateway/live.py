"""The whole system in a background thread, the gateway served over real HTTP by uvicorn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from chartwise_devtools.servers import free_port
from chartwise_gateway.app import build_app
from tests.integration.gateway.conftest import (
    ADMIN_TOKEN,
    Backing,
    analysis_and_scheduler,
    fake_vision_model,
    gateway_settings,
    journal_and_usage,
)

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LiveSystem:
    base_url: str

    def create_user(self) -> tuple[str, str]:
        response = httpx.post(
            f"{self.base_url}/v1/admin/users",
            json={"email": f"live-{free_port()}@example.com"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return body["user"]["id"], body["api_key"]["key"]


@contextmanager
def live_system(backing: Backing, **gateway_overrides: object) -> Iterator[LiveSystem]:
    """Every service, and the gateway on a free port, until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        build_app(gateway_settings(backing, **gateway_overrides)),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    async def run() -> None:
        with fake_vision_model() as vision_model:
            async with analysis_and_scheduler(backing, vision_model), journal_and_usage(backing):
                await server.serve()

    def thread_main() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:  # reported to the test below
            failure.append(error)

    thread = threading.Thread(target=thread_main, name="live-system", daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.02):  # the server exposes no event to wait on, only a flag
        if server.started:
            started.set()
        elif not thread.is_alive():
            raise RuntimeError(f"the live system did not start: {failure!r}")
    try:
        yield LiveSystem(base_url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
