"""The Redis broker every service uses, with log context taken from each message's envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import structlog
from faststream import StreamMessage
from faststream.middlewares import BaseMiddleware
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.prometheus import RedisPrometheusMiddleware
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from chartwise_contracts import StreamSpec
from chartwise_runtime.settings import ServiceSettings

BROKER_MAX_CONNECTIONS = 1_000
"""Every stream subscriber holds a connection in a blocking read; a service has dozens of them."""

IDLE_BLOCK_MS = 1_000

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


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
        max_connections=BROKER_MAX_CONNECTIONS,
        middlewares=middlewares,
        graceful_timeout=settings.shutdown_timeout_s,
        logger=structlog.stdlib.get_logger("faststream"),
    )


def group_sub(stream: StreamSpec | str, *, group: str, consumer: str) -> StreamSub[Literal[False]]:
    """New entries of a stream through a consumer group; an entry stays pending until its handler succeeds.

    One entry is read at a time: FastStream handles a subscriber's entries one after another, and entries
    read ahead would sit pending unhandled, where the reclaimer would take them for stalled. A new entry
    ends the blocking read at once, so the long block costs no latency; it only keeps idle subscribers from
    polling Redis ten times a second each.
    """
    return StreamSub(_name(stream), group=group, consumer=consumer, polling_interval=IDLE_BLOCK_MS, max_records=1)


def reclaim_sub(stream: StreamSpec | str, *, group: str, consumer: str, idle_ms: int) -> StreamSub[Literal[False]]:
    """Entries left pending longer than `idle_ms` (their consumer died or failed), claimed by this consumer.

    FastStream reads such a subscription with XAUTOCLAIM only, so it complements `group_sub`, never replaces it.
    """
    return StreamSub(_name(stream), group=group, consumer=consumer, min_idle_time=idle_ms)


def reliable_subscriber(
    broker: RedisBroker,
    stream: StreamSpec | str,
    *,
    group: str,
    consumer: str,
    reclaim_idle_ms: int = 30_000,
    concurrency: int = 1,
) -> Callable[[H], H]:
    """Registers a handler for a stream's new entries and for entries another consumer left pending.

    Entries are acked only when the handler returns; one that raised stays pending and is delivered again
    after `reclaim_idle_ms`, so handlers must be idempotent on the message id. With `concurrency` above 1,
    that many entries are handled at once (each by a subscriber of its own, consumer `<consumer>:<n>`),
    and their order is no longer kept.
    """

    def register(handler: H) -> H:
        names = [consumer] if concurrency == 1 else [f"{consumer}:{slot}" for slot in range(concurrency)]
        # Only the first subscription describes the channel in the AsyncAPI document; the rest repeat it.
        for slot, name in enumerate(names):
            sub = group_sub(stream, group=group, consumer=name)
            broker.subscriber(stream=sub, include_in_schema=slot == 0)(handler)
        claim = reclaim_sub(stream, group=group, consumer=consumer, idle_ms=reclaim_idle_ms)
        broker.subscriber(stream=claim, include_in_schema=False)(handler)
        return handler

    return register


def _name(stream: StreamSpec | str) -> str:
    return stream.name if isinstance(stream, StreamSpec) else stream


async def ensure_consumer_groups(broker: RedisBroker, redis_url: str) -> list[tuple[str, str]]:
    """Creates, from the start of each stream, the consumer group of every group subscription of `broker`.

    FastStream creates a missing group from `$` when its subscriber starts, so anything written to the
    stream before then — an event published while this service was never running, a request sent during
    its start-up — would never be delivered. Run before the broker starts; existing groups are left alone.
    """
    subscriptions = [getattr(sub, "stream_sub", None) for sub in broker.subscribers]
    pairs = sorted({(s.name, s.group) for s in subscriptions if isinstance(s, StreamSub) and s.group})
    client: Redis = Redis.from_url(redis_url)
    try:
        for stream, group in pairs:
            try:
                await client.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
    finally:
        await client.aclose()
    return pairs
