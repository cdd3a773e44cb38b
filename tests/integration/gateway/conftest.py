"""The gateway against real Redis and MongoDB, with the real services it talks to running beside it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from faststream.asgi import AsgiFastStream
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from chartwise_devtools.asgi import running
from chartwise_devtools.waiting import eventually
from chartwise_gateway.app import build_app
from chartwise_gateway.settings import Settings
from chartwise_runtime.mongo import Document
from tests.fakes.openai_server import API_KEY as OPENAI_KEY
from tests.fakes.openai_server import FakeOpenAI, openai_server
from tests.integration.analysis.conftest import chart_answer

ADMIN_TOKEN = "test-admin-token-0123456789"
PEPPER = "test-pepper-0123456789"
STRIPE_WEBHOOK_SECRET = "whsec_gateway_test"
SHUTDOWN_TIMEOUT_S = 1.0


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Runs a FastAPI app's lifespan in a task of its own, like `chartwise_devtools.asgi.running`."""
    started = asyncio.Event()
    stop = asyncio.Event()

    async def own_lifespan() -> None:
        async with app.router.lifespan_context(app):
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
        yield app
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def running_service(app: AsgiFastStream) -> AsyncIterator[AsgiFastStream]:
    async with running(app):
        # `running` returns once the app's hooks ran, before its broker has created its consumer groups.
        await eventually(lambda: all(b.running for b in app.brokers), message="a service did not start")
        yield app


@dataclass(frozen=True)
class Backing:
    redis_url: str
    mongo_url: str
    databases: str
    blob_dir: Path

    def common(self) -> dict[str, Any]:
        return {
            "environment": "test",
            "redis_url": self.redis_url,
            "mongo_url": self.mongo_url,
            "shutdown_timeout_s": SHUTDOWN_TIMEOUT_S,
        }


def gateway_settings(backing: Backing, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        **backing.common(),
        "mongo_database": f"{backing.databases}_gateway",
        "admin_token": ADMIN_TOKEN,
        "key_pepper": PEPPER,
        "blob_dir": backing.blob_dir,
        "rpc_timeout_s": 5.0,
        "consumer_name": "gateway-test",
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def journal_and_usage(backing: Backing) -> AsyncIterator[None]:
    from chartwise_journal.app import build_app as build_journal
    from chartwise_journal.settings import Settings as JournalSettings
    from chartwise_usage.app import build_app as build_usage
    from chartwise_usage.settings import Settings as UsageSettings

    journal = build_journal(
        JournalSettings(**backing.common(), mongo_database=f"{backing.databases}_journal", consumer_name="journal-t")
    )
    usage = build_usage(
        UsageSettings(
            **backing.common(),
            mongo_database=f"{backing.databases}_usage",
            consumer_name="usage-t",
            schedule_recurring_work=False,
            stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
        )
    )
    async with running_service(journal), running_service(usage):
        yield


@contextlib.asynccontextmanager
async def analysis_and_scheduler(
    backing: Backing, vision_model: FakeOpenAI, overrides: Any = None
) -> AsyncIterator[None]:
    """`overrides`: a `chartwise_analysis.app.Overrides`, e.g. to let chart URLs reach a local transport."""
    from chartwise_analysis.app import build_app as build_analysis
    from chartwise_analysis.settings import Settings as AnalysisSettings
    from chartwise_scheduler.app import build_app as build_scheduler
    from chartwise_scheduler.settings import Settings as SchedulerSettings

    analysis = build_analysis(
        AnalysisSettings(
            **backing.common(),
            mongo_database=f"{backing.databases}_analysis",
            consumer_name="analysis-t",
            vision_provider="openai",
            openai_base_url=vision_model.base_url,
            openai_api_key=OPENAI_KEY,
            cloudinary_api_secret="unused-local-blobs",
            blob_dir=backing.blob_dir,
            rate_limit_jobs=1_000,
        ),
        overrides,
    )
    scheduler = build_scheduler(
        SchedulerSettings(**backing.common(), mongo_database=f"{backing.databases}_scheduler", consumer_name="sched-t")
    )
    async with running_service(scheduler), running_service(analysis):
        yield


@dataclass
class Api:
    """An HTTP client of the gateway, with helpers to make users through the admin API."""

    http: httpx.AsyncClient
    app: FastAPI

    async def create_user(self, email: str | None = None) -> tuple[str, str]:
        response = await self.http.post(
            "/v1/admin/users",
            json={"email": email or f"trader-{uuid4().hex[:10]}@example.com"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["user"]["id"], body["api_key"]["key"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def gateway_client(backing: Backing, **overrides: Any) -> AsyncIterator[Api]:
    app = build_app(gateway_settings(backing, **overrides))
    async with serving(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield Api(http=http, app=app)


async def drop_databases(mongo_url: str, prefix: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_url)
    try:
        for name in await client.list_database_names():
            if name.startswith(prefix):
                await client.drop_database(name)
    finally:
        await client.close()


@contextlib.contextmanager
def fake_vision_model() -> Iterator[FakeOpenAI]:
    """A local server speaking OpenAI's chat completions, answering every request with a chart analysis."""
    with openai_server() as fake:
        fake.default = lambda _body: fake.answer(chart_answer())
        yield fake


@pytest.fixture
async def backing(redis: Redis, redis_url: str, mongo_url: str, tmp_path: Path) -> AsyncIterator[Backing]:
    """Per test: a flushed Redis and databases of its own (dropped afterwards)."""
    prefix = f"gw_{uuid4().hex[:10]}"
    yield Backing(redis_url=redis_url, mongo_url=mongo_url, databases=prefix, blob_dir=tmp_path / "blobs")
    await drop_databases(mongo_url, prefix)


@pytest.fixture
async def gateway(backing: Backing) -> AsyncIterator[Api]:
    """The gateway alone (routes that need no other service)."""
    async with gateway_client(backing) as api:
        yield api


@contextlib.asynccontextmanager
async def module_backing(
    redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backing]:
    flush: Redis = Redis.from_url(redis_url)
    await flush.flushdb()
    await flush.aclose()
    prefix = f"gw_{uuid4().hex[:10]}"
    yield Backing(redis_url, mongo_url, prefix, tmp_path_factory.mktemp("gateway") / "blobs")
    await drop_databases(mongo_url, prefix)


# The services are started once per module (their tests each make users of their own): starting and
# stopping them for every test costs more than the tests, and FastStream sometimes takes tens of seconds
# to stop the usage service's subscribers.


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """The gateway with the journal and usage services answering behind it."""
    async with (
        module_backing(redis_url, mongo_url, tmp_path_factory) as backing,
        journal_and_usage(backing),
        gateway_client(backing) as client,
    ):
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(redis_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """The gateway with every service it talks to.

    Analysis and scheduler start first so they stop last: stopped before usage, they leave usage's
    subscribers failing their reads, and usage then takes tens of seconds to stop.
    """
    with fake_vision_model() as vision_model:
        async with (
            module_backing(redis_url, mongo_url, tmp_path_factory) as backing,
            analysis_and_scheduler(backing, vision_model),
            journal_and_usage(backing),
            gateway_client(backing) as client,
        ):
            yield client
