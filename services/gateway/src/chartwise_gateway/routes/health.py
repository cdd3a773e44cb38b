"""Liveness, readiness and metrics: outside /v1 and outside the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chartwise_gateway.deps import ClientsDep
from chartwise_runtime.logging import get_logger
from chartwise_runtime.mongo import ping

READINESS_TIMEOUT_S = 2.0

router = APIRouter(include_in_schema=False)
log = get_logger(__name__)


async def _check(name: str, probe: Callable[[], Awaitable[object]]) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), timeout=READINESS_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - any failure of a dependency means "not ready"
        log.warning("readiness check failed", check=name, error=repr(error))
        return name, f"failing: {type(error).__name__}"
    return name, "ok"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(clients: ClientsDep) -> JSONResponse:
    checks = dict(
        await asyncio.gather(_check("redis", clients.redis.ping), _check("mongo", lambda: ping(clients.mongo)))
    )
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
