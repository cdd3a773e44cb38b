"""The Redis broker every service uses, with log context taken from each message's envelope."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, cast

import structlog
from faststream import ContextRepo, StreamMessage
from faststream.middlewares import BaseMiddleware
from faststream.redis import RedisBroker, RedisRouter, StreamSub
from faststream.redis.message import RedisStreamMessage
from faststream.redis.prometheus import RedisPrometheusMiddleware
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from chartwise_contracts import StreamSpec
from chartwise_runtime.settings import ServiceSettings

BROKER_MAX_CONNECTIONS = 1_000
"""Every stream subscriber holds a connection in a blocking read; a service has dozens of them."""

IDLE_BLOCK_MS = 1_000

MAX_DELIVERIES = 5
"""Deliveries of a failing entry before it is parked on its stream's dead-letter stream."""

DEAD_LETTER_MAXLEN = 10_000
DEAD_LETTER_SUFFIX = ".dead"

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


def dead_letter_stream(stream: StreamSpec | str) -> str:
    """The stream where entries of `stream` that cannot be handled are parked with their error."""
    return _name(stream) + DEAD_LETTER_SUFFIX


def is_invalid_body(error: BaseException) -> bool:
    """Whether `error` is the body failing validation against the handler's contract: no retry can fix it.

    FastDepends raises pydantic's error as is, or wrapped in its own (with `original_error`) depending on
    its serializer.
    """
    return isinstance(error, ValidationError) or isinstance(getattr(error, "original_error", None), ValidationError)


class PoisonParking(BaseMiddleware):
    """Parks an entry that cannot be handled on `<stream>.dead` and acks it, so it stops coming back.

    An entry is parked at once when its body does not fit the handler's contract (no retry can fix it),
    and after `max_deliveries` deliveries when the handler keeps raising. Until then an error leaves the
    entry pending, to be reclaimed and retried.
    """

    def __init__(self, msg: Any, /, *, context: ContextRepo, max_deliveries: int) -> None:
        super().__init__(msg, context=context)
        self._max_deliveries = max_deliveries

    async def consume_scope(
        self,
        call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
        msg: StreamMessage[Any],
    ) -> Any:
        try:
            return await call_next(msg)
        except Exception as error:
            if not isinstance(msg, RedisStreamMessage) or msg.group is None:
                raise
            invalid = is_invalid_body(error)
            # Read only on failure: XPENDING costs a round trip that a handled entry never needs.
            deliveries = await msg.get_delivery_count()
            if not invalid and deliveries < self._max_deliveries:
                raise
            await _park(msg, error, deliveries=deliveries, group=msg.group)
            return None


async def _park(msg: RedisStreamMessage, error: Exception, *, deliveries: int, group: str) -> None:
    """Moves the entry to the dead-letter stream and acks it in one transaction: never both lost nor both kept."""
    raw = msg.raw_message
    stream = raw["channel"]
    entry_id = raw["message_ids"][0]
    reason = _error_text(error)
    fields: dict[FieldT, EncodableT] = dict(raw["data"].items())
    fields.update(
        {
            "dead.error": reason,
            "dead.error_type": type(error).__name__,
            "dead.stream": stream,
            "dead.group": group,
            "dead.entry_id": entry_id,
            "dead.deliveries": str(deliveries),
        }
    )
    client = cast("Redis", msg.consumer)
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(dead_letter_stream(stream), fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        pipe.xack(stream, group, entry_id)
        await pipe.execute()
    structlog.stdlib.get_logger(__name__).error(
        "entry parked on dead-letter stream",
        stream=stream,
        group=group,
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        deliveries=deliveries,
        error_type=type(error).__name__,
        error=reason,
    )


def _error_text(error: Exception) -> str:
    original = getattr(error, "original_error", None)
    text = str(original) if isinstance(original, Exception) else str(error) or repr(error)
    return text[:4000]


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
    max_deliveries: int = MAX_DELIVERIES,
) -> Callable[[H], H]:
    """Registers a handler for a stream's new entries and for entries another consumer left pending.

    Entries are acked only when the handler returns; one that raised stays pending and is delivered again
    after `reclaim_idle_ms`, so handlers must be idempotent on the message id. An entry still failing at
    its `max_deliveries`-th delivery, or whose body does not fit the handler's contract, is parked on
    `<stream>.dead` with its error (see `PoisonParking`). With `concurrency` above 1, that many entries
    are handled at once (each by a subscriber of its own, consumer `<consumer>:<n>`), and their order is
    no longer kept.
    """
    if max_deliveries < 1:
        raise ValueError("max_deliveries must be at least 1")

    def register(handler: H) -> H:
        # A router of its own carries the parking middleware to these subscribers only.
        router = RedisRouter(middlewares=[functools.partial(PoisonParking, max_deliveries=max_deliveries)])
        names = [consumer] if concurrency == 1 else [f"{consumer}:{slot}" for slot in range(concurrency)]
        # Only the first subscription describes the channel in the AsyncAPI document; the rest repeat it.
        for slot, name in enumerate(names):
            sub = group_sub(stream, group=group, consumer=name)
            router.subscriber(stream=sub, include_in_schema=slot == 0)(handler)
        claim = reclaim_sub(stream, group=group, consumer=consumer, idle_ms=reclaim_idle_ms)
        router.subscriber(stream=claim, include_in_schema=False)(handler)
        broker.include_router(router)
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
