"""Composition root of the journal service: builds its clients and wires its handlers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from chartwise_journal.handlers import build_router
from chartwise_journal.repository import INDEXES, MongoTradeStore
from chartwise_journal.settings import Settings
from chartwise_runtime.service import ServiceRuntime


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime.create(settings, indexes=INDEXES)
    store = MongoTradeStore(runtime.db)
    runtime.broker.include_router(build_router(store, consumer=settings.consumer_name))
    return runtime.app(description="Owns the trade journal: entries, statistics, CSV import and export.")
