"""The ASGI app of a FastStream service: its broker plus /healthz, /readyz, /metrics and /asyncapi."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from chartwise_runtime.logging import get_logger
from chartwise_runtime.settings import ServiceSettings

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[..., Any]

READINESS_TIMEOUT_S = 2.0

log = get_logger(__name__)


def _json(status: int, body: Mapping[str, Any]) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status_code=status, headers={"content-type": "application/json"})


async def _run_check(name: str, check: ReadinessCheck) -> tuple[str, str]:
    try:
        await asyncio.wait_for(check(), timeout=READINESS_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - any failure of a dependency means "not ready"
        log.warning("readiness check failed", check=name, error=repr(error))
        return name, f"failing: {type(error).__name__}"
    return name, "ok"


def broker_check(broker: RedisBroker) -> ReadinessCheck:
    async def check() -> None:
        if not await broker.ping(timeout=READINESS_TIMEOUT_S):
            raise ConnectionError("redis did not answer PING")

    return check


def health_routes(checks: Mapping[str, ReadinessCheck], metrics: CollectorRegistry) -> list[tuple[str, Any]]:
    @get(include_in_schema=False)
    async def healthz(scope: Any) -> AsgiResponse:
        return _json(200, {"status": "ok"})

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        results = dict(await asyncio.gather(*(_run_check(n, c) for n, c in checks.items())))
        ready = all(v == "ok" for v in results.values())
        return _json(200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": results})

    @get(include_in_schema=False)
    async def metrics_route(scope: Any) -> AsgiResponse:
        return AsgiResponse(generate_latest(metrics), status_code=200, headers={"content-type": CONTENT_TYPE_LATEST})

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", metrics_route)]


def build_service_app(
    *,
    settings: ServiceSettings,
    broker: RedisBroker,
    metrics: CollectorRegistry,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    on_startup: Sequence[Callable[..., Any]] = (),
    after_startup: Sequence[Callable[..., Any]] = (),
    on_shutdown: Sequence[Callable[..., Any]] = (),
    description: str = "",
) -> AsgiFastStream:
    checks: dict[str, ReadinessCheck] = {"redis": broker_check(broker), **(readiness or {})}
    return AsgiFastStream(
        broker,
        asgi_routes=health_routes(checks, metrics),
        lifespan=lifespan,
        on_startup=on_startup,
        after_startup=after_startup,
        on_shutdown=on_shutdown,
        specification=AsyncAPI(
            broker, title=f"chartwise-{settings.service_name}", version="1.0.0", description=description
        ),
        asyncapi_path="/asyncapi",
    )
