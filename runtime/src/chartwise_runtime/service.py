"""The clients one service process holds, created by its composition root and closed on shutdown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from prometheus_client import CollectorRegistry
from pymongo import IndexModel

from chartwise_runtime.broker import ensure_consumer_groups, make_broker
from chartwise_runtime.mongo import Database, MongoClient, ensure_indexes, make_mongo_client, ping
from chartwise_runtime.service_app import ReadinessCheck, build_service_app
from chartwise_runtime.settings import ServiceSettings


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    broker: RedisBroker
    metrics: CollectorRegistry
    mongo: MongoClient
    indexes: Mapping[str, Sequence[IndexModel]] = field(default_factory=dict)

    @classmethod
    def create(
        cls, settings: ServiceSettings, *, indexes: Mapping[str, Sequence[IndexModel]] | None = None
    ) -> ServiceRuntime:
        metrics = CollectorRegistry()
        return cls(
            settings=settings,
            broker=make_broker(settings, metrics=metrics),
            metrics=metrics,
            mongo=make_mongo_client(settings),
            indexes=indexes or {},
        )

    @property
    def db(self) -> Database:
        return self.mongo[self.settings.mongo_database]

    async def _bootstrap_indexes(self) -> None:
        await ensure_indexes(self.db, self.indexes)

    async def _create_consumer_groups(self) -> None:
        await ensure_consumer_groups(self.broker, self.settings.redis_url)

    async def _close_mongo(self) -> None:
        await self.mongo.close()

    def app(
        self,
        *,
        description: str,
        on_startup: Sequence[Callable[..., Any]] = (),
        after_startup: Sequence[Callable[..., Any]] = (),
        on_shutdown: Sequence[Callable[..., Any]] = (),
        readiness: Mapping[str, ReadinessCheck] | None = None,
    ) -> AsgiFastStream:
        """The ASGI app: indexes and consumer groups ensured before the broker starts, Mongo closed after it stops."""
        app = build_service_app(
            settings=self.settings,
            broker=self.broker,
            metrics=self.metrics,
            readiness={"mongo": lambda: ping(self.mongo), **(readiness or {})},
            on_startup=[self._bootstrap_indexes, self._create_consumer_groups, *on_startup],
            after_startup=after_startup,
            on_shutdown=on_shutdown,
            description=description,
        )
        app.after_shutdown(self._close_mongo)
        return app
