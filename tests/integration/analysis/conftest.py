"""Fixtures: the analysis service (and the real scheduler) running on real Redis and MongoDB, with the OpenAI
and Cloudinary SDKs pointed at local fakes."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from faststream.redis.parser import BinaryMessageFormatV1
from pydantic import SecretStr, TypeAdapter
from redis.asyncio import Redis

from chartwise_analysis.app import build_app
from chartwise_analysis.record import ChartAnalysis
from chartwise_analysis.repository import COLLECTION
from chartwise_analysis.settings import Settings
from chartwise_contracts import Message, Reply, Streams
from chartwise_contracts.analysis import AnalysisCancelled, AnalysisCompleted, AnalysisEvent, AnalysisFailed
from chartwise_contracts.analysis_api import AnalysisMetadata, AnalysisRpc, ChartReference, RequestAnalysis
from chartwise_devtools.asgi import running
from chartwise_devtools.waiting import eventually
from chartwise_runtime.blobs import LocalBlobStore
from chartwise_runtime.mongo import Database
from chartwise_runtime.rpc import publish, request
from chartwise_scheduler.app import Scheduler
from chartwise_scheduler.app import register_handlers as register_scheduler_handlers
from chartwise_scheduler.clock import SystemClock
from chartwise_scheduler.settings import Settings as SchedulerSettings
from tests.fakes.cloudinary_server import FakeCloudinary, cloudinary_server
from tests.fakes.openai_server import API_KEY, FakeOpenAI, openai_server

_events: TypeAdapter[AnalysisCompleted | AnalysisFailed | AnalysisCancelled | AnalysisEvent] = TypeAdapter(
    AnalysisCompleted | AnalysisFailed | AnalysisCancelled | AnalysisEvent
)


def png(width: int = 4, height: int = 3, seed: int = 0) -> bytes:
    """A real, tiny PNG; `seed` changes its pixels, so different seeds give different content hashes."""
    rows = b"".join(b"\x00" + bytes((seed + x + y) % 256 for x in range(width * 3)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def chart_answer(**overrides: Any) -> dict[str, Any]:
    """A complete, consistent structured answer for one chart with a matching long setup."""
    answer: dict[str, Any] = {
        "is_chart": True,
        "not_chart_reason": "",
        "bias": "bullish",
        "bias_reasons": ["higher highs and higher lows", "price above the 50-day moving average"],
        "support_levels": [{"price": 182.5, "note": "prior breakout level"}],
        "resistance_levels": [{"price": 195.0, "note": "all-time high"}],
        "patterns": ["ascending triangle"],
        "indicators": ["RSI 62, rising"],
        "timeframes": [],
        "dominant_timeframe": None,
        "setup_found": True,
        "setup_assessment": "A breakout above 195 fits the breakout strategy.",
        "trade_plan": {
            "direction": "long",
            "entry": 195.5,
            "entry_trigger": "daily close above 195",
            "stop_loss": 188.0,
            "take_profits": [205.0, 212.0],
            "risk_reward": 1.27,
            "expected_duration": "1-3 weeks",
            "break_even_rule": "move the stop to entry once 205 is reached",
        },
        "reevaluate_if": ["a daily close below 182.5"],
        "confidence": 0.72,
        "markdown": (
            "## Key Takeaways\nBullish.\n## Trade Evaluation\n...\n## Trade Execution Plan\n...\n## Summary\n..."
        ),
    }
    answer.update(overrides)
    return answer


def not_a_chart_answer() -> dict[str, Any]:
    return chart_answer(
        is_chart=False,
        not_chart_reason="The image is a photograph of a cat.",
        bias=None,
        bias_reasons=[],
        support_levels=[],
        resistance_levels=[],
        patterns=[],
        indicators=[],
        setup_found=False,
        setup_assessment="",
        trade_plan=None,
        reevaluate_if=[],
        confidence=0.99,
        markdown="A price chart is needed: this image is not one.",
    )


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with openai_server() as fake:
        yield fake


@pytest.fixture
def fake_cloudinary() -> Iterator[FakeCloudinary]:
    with cloudinary_server() as fake:
        yield fake


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def blobs(blob_dir: Path) -> LocalBlobStore:
    return LocalBlobStore(blob_dir)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test changes (parametrize this fixture); merged over `settings_values`."""
    return {}


@pytest.fixture
def settings_values(  # noqa: PLR0917 - pytest passes fixtures by position
    redis_url: str,
    mongo_url: str,
    mongo_database_name: str,
    fake_openai: FakeOpenAI,
    blob_dir: Path,
    settings_overrides: dict[str, Any],
) -> dict[str, Any]:
    """Settings of the service under test."""
    return {
        "environment": "test",
        "redis_url": redis_url,
        "mongo_url": mongo_url,
        "mongo_database": mongo_database_name,
        "consumer_name": "analysis-test",
        "openai_api_key": SecretStr(API_KEY),
        "openai_base_url": fake_openai.base_url,
        "openai_timeout_s": 0.5,
        "cloudinary_api_secret": SecretStr("unused-in-local-mode"),
        "blob_store": "local",
        "blob_dir": blob_dir,
        "job_attempts": 3,
        "retry_delay_ms": 20,
        "rate_limit_jobs": 1000,
        "rate_limit_per_s": 1.0,
        "shutdown_timeout_s": 2.0,
        **settings_overrides,
    }


@dataclass
class Service:
    app: AsgiFastStream
    broker: RedisBroker
    settings: Settings
    db: Database
    redis: Redis

    async def request_analysis(self, command: RequestAnalysis) -> None:
        spec = Streams.ANALYSIS_COMMANDS
        await publish(self.broker, command, stream=spec.name, maxlen=spec.maxlen)

    async def ask(self, message: Message, subject: str, reply_type: type[Any]) -> Any:
        reply: Reply = await request(self.broker, message, subject=subject, reply_type=reply_type, timeout=5.0)
        return reply

    async def document(self, analysis_id: str) -> ChartAnalysis | None:
        doc = await self.db[COLLECTION].find_one({"_id": analysis_id})
        return ChartAnalysis.model_validate(doc) if doc is not None else None

    async def finished(self, analysis_id: str, *, timeout: float = 10.0) -> ChartAnalysis:
        async def probe() -> ChartAnalysis | None:
            doc = await self.document(analysis_id)
            return doc if doc is not None and doc.finished else None

        found: ChartAnalysis = await eventually(probe, timeout=timeout, message=f"analysis {analysis_id} finished")
        return found

    async def announced(self, analysis_id: str, count: int = 1) -> list[AnalysisEvent]:
        """The analysis's events once at least `count` were published (the event follows the stored state)."""

        async def probe() -> list[AnalysisEvent]:
            found = await self.events(analysis_id)
            return found if len(found) >= count else []

        events: list[AnalysisEvent] = await eventually(probe, message=f"{count} events of {analysis_id}")
        return events

    async def events(self, analysis_id: str | None = None) -> list[AnalysisEvent]:
        found: list[AnalysisEvent] = []
        for _, fields in await self.redis.xrange(Streams.ANALYSIS_EVENTS.name):
            raw: Any = fields[b"__data__"]
            body, _ = BinaryMessageFormatV1.parse(raw)
            event = _events.validate_json(body)
            if analysis_id is None or event.analysis_id == analysis_id:
                found.append(event)
        return found


RPC_SUBJECTS = [v for k, v in vars(AnalysisRpc).items() if k.isupper()]


async def _groups_created(redis: Redis, streams: list[str]) -> None:
    """Waits until every stream has its consumer group: FastStream creates them at `$` after start-up, so a
    message written before that would never be delivered."""

    async def all_there() -> bool:
        for stream in streams:
            if not await redis.exists(stream) or not await redis.xinfo_groups(stream):
                return False
        return True

    await eventually(all_there, timeout=10.0, message="consumer groups created")


@pytest.fixture
async def service(
    settings_values: dict[str, Any], redis: Redis, mongo_db: Database, redis_url: str, mongo_url: str
) -> AsyncIterator[Service]:
    """The analysis service and the scheduler that moves its jobs onto the queue, both running."""
    settings = Settings(**settings_values)
    scheduler_settings = SchedulerSettings(
        environment="test",
        redis_url=redis_url,
        mongo_url=mongo_url,
        mongo_database=f"{settings.mongo_database}_scheduler",
        consumer_name="scheduler-test",
    )
    app = build_app(settings)
    # The scheduler's own handlers, served by the analysis app's broker: FastStream serves only one app's
    # subscribers per process, and the scheduler must be real for delays and retries to be.
    assert isinstance(app.broker, RedisBroker)
    scheduler = Scheduler(scheduler_settings, SystemClock())
    register_scheduler_handlers(app.broker, scheduler, scheduler_settings)
    client = RedisBroker(redis_url)
    await scheduler.start()
    try:
        async with running(app):
            await _groups_created(
                redis, [Streams.ANALYSIS_COMMANDS.name, Streams.SCHEDULER_COMMANDS.name, *RPC_SUBJECTS]
            )
            await client.connect()
            try:
                yield Service(app=app, broker=client, settings=settings, db=mongo_db, redis=redis)
            finally:
                await client.stop()
    finally:
        await scheduler.stop()


def analysis_request(
    analysis_id: str,
    *charts: ChartReference,
    user_id: str = "user-1",
    strategy: str = "Breakout above resistance on volume",
    risk: int | None = 20,
    name: str | None = None,
) -> RequestAnalysis:
    return RequestAnalysis.new(
        actor=user_id,
        analysis_id=analysis_id,
        user_id=user_id,
        charts=list(charts),
        metadata=AnalysisMetadata(strategy_and_criteria=strategy, risk=risk),
        name=name,
    )
