"""Composition root of the gateway: the FastAPI app, its middleware, and the clients built in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from chartwise_gateway.clients import Clients
from chartwise_gateway.errors import install_error_handlers
from chartwise_gateway.identity.service import Identity
from chartwise_gateway.identity.store import INDEXES, IdentityStore
from chartwise_gateway.middleware import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    BodySizeLimitMiddleware,
    HttpMetrics,
    RequestContextMiddleware,
)
from chartwise_gateway.openapi import install_openapi
from chartwise_gateway.ratelimit import RateLimiter
from chartwise_gateway.routes import (
    account,
    admin,
    admin_jobs,
    analyses,
    health,
    jobs,
    journal,
    keys,
    schedules,
    usage,
    webhooks,
)
from chartwise_gateway.settings import Settings
from chartwise_runtime.blobs import LocalBlobStore
from chartwise_runtime.broker import make_broker
from chartwise_runtime.mongo import ensure_indexes, make_mongo_client

DESCRIPTION = """The ChartWise HTTP API: chart analyses, the trade journal, usage and plans, schedules.

Authenticate with an API key, `Authorization: Bearer cw_...` (or `X-API-Key: cw_...`). Every failure answers
`{"error": {"code", "message", "details"}}`.
"""


def build_app(settings: Settings) -> FastAPI:
    metrics = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker = make_broker(settings, metrics=metrics)
        mongo = make_mongo_client(settings)
        redis: Redis = Redis.from_url(settings.redis_url, decode_responses=False)
        db = mongo[settings.mongo_database]
        try:
            await ensure_indexes(db, INDEXES)
            await broker.start()
            app.state.clients = Clients(
                settings=settings,
                broker=broker,
                mongo=mongo,
                redis=redis,
                blobs=LocalBlobStore(settings.blob_dir),
                identity=Identity(IdentityStore(db), pepper=settings.key_pepper),
                rate_limiter=RateLimiter(
                    redis, limit=settings.rate_limit_requests, window_s=settings.rate_limit_window_s
                ),
            )
            yield
        finally:
            await broker.stop()
            await redis.aclose()
            await mongo.close()

    app = FastAPI(
        title="ChartWise API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app, analyses.SUBMIT_MODELS)
    routers = (health, keys, analyses, schedules, jobs, journal, usage, account, webhooks, admin, admin_jobs)
    for router in (r.router for r in routers):
        app.include_router(router)

    # Added innermost first: the request context wraps everything, so even a 413 or a CORS refusal has ids.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key", CORRELATION_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, CORRELATION_ID_HEADER, "Retry-After", "X-RateLimit-Remaining"],
        max_age=600,
    )
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(metrics))
    return app
