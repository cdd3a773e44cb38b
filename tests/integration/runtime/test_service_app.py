"""A FastStream service app answers liveness, readiness and metrics, against real Redis and Mongo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import httpx
import pytest
from faststream.asgi import AsgiFastStream

from chartwise_devtools.asgi import running
from chartwise_devtools.servers import free_port
from chartwise_runtime.service import ServiceRuntime
from chartwise_runtime.settings import Environment, ServiceSettings


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


def build(redis_url: str, mongo_url: str) -> AsgiFastStream:
    settings = ProbeSettings(environment=Environment.TEST, redis_url=redis_url, mongo_url=mongo_url)
    return ServiceRuntime.create(settings).app(description="probe")


@pytest.fixture
async def client(redis_url: str, mongo_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = build(redis_url, mongo_url)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
            yield http


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_redis_and_mongo_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok", "mongo": "ok"}}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in response.text


async def test_asyncapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi.json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "chartwise-probe"


async def test_readyz_fails_when_mongo_is_unreachable(redis_url: str) -> None:
    app = build(redis_url, f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
            response = await http.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"] == "ok"
    assert checks["mongo"].startswith("failing")
