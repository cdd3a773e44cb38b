"""The Redis broker every service uses, with log context taken from each message's envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import StreamMessage
from faststream.middlewares import BaseMiddleware
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.prometheus import RedisPrometheusMiddleware
from prometheus_client import CollectorRegistry

from chartwise_contracts import StreamSpec
from chartwise_runtime.settings import ServiceSettings


class EnvelopeContextMiddleware(BaseMiddleware):
    """Binds correlation id, message id and acting user to the logs of the handler that consumes a message."""

    async def consume_scope(
        self,
        call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
        msg: StreamMessage[Any],
    ) -> Any:
        body = await msg.decode()
        meta = body.get("meta") if isinstance(body, dict) else None
        if not isinstance(meta, dict):
            return await call_next(msg)
        with structlog.contextvars.bound_contextvars(
            correlation_id=meta.get("correlation_id"),
            message_id=meta.get("message_id"),
            user=meta.get("actor"),
        ):
            return await call_next(msg)


def make_broker(settings: ServiceSettings, *, metrics: CollectorRegistry | None = None) -> RedisBroker:
    middlewares: list[Any] = [EnvelopeContextMiddleware]
    if metrics is not None:
        middlewares.insert(0, RedisPrometheusMiddleware(registry=metrics, app_name=settings.service_name))
    return RedisBroker(
        settings.redis_url,
        middlewares=middlewares,
        graceful_timeout=settings.shutdown_timeout_s,
        logger=structlog.stdlib.get_logger("faststream"),
    )


def group_sub(stream: StreamSpec | str, *, group: str, consumer: str, claim_idle_ms: int | None = 30_000) -> StreamSub:
    """A consumer-group subscription; entries left pending by a dead consumer are claimed after `claim_idle_ms`."""
    name = stream.name if isinstance(stream, StreamSpec) else stream
    return StreamSub(name, group=group, consumer=consumer, min_idle_time=claim_idle_ms)
