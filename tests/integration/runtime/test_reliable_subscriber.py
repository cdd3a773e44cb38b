"""A stream handler that fails leaves its entry pending; the entry is delivered again and then acked."""

from __future__ import annotations

import asyncio

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts import Event
from chartwise_devtools.waiting import eventually
from chartwise_runtime.broker import dead_letter_stream, ensure_consumer_groups, reliable_subscriber

STREAM = "test.reliable.events"


class Happened(Event):
    n: int


async def test_failed_entry_is_redelivered_then_acked(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    seen: list[int] = []

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", reclaim_idle_ms=200)
    async def handle(event: Happened) -> None:
        seen.append(event.n)
        if len(seen) == 1:
            raise RuntimeError("transient failure")

    async with broker:
        await broker.start()
        await broker.publish(Happened.new(n=7), stream=STREAM)
        await eventually(lambda: len(seen) >= 2)
        await eventually(lambda: _pending(redis), message="entry still pending")

    assert seen == [7, 7]


async def test_successful_entry_is_acked_once(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    seen: list[int] = []

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", reclaim_idle_ms=200)
    async def handle(event: Happened) -> None:
        seen.append(event.n)

    async with broker:
        await broker.start()
        for n in range(5):
            await broker.publish(Happened.new(n=n), stream=STREAM)
        await eventually(lambda: len(seen) == 5)
        await eventually(lambda: _pending(redis), message="entries still pending")

    assert sorted(seen) == [0, 1, 2, 3, 4]


async def _pending(redis: Redis) -> bool:
    summary = await redis.xpending(STREAM, "g")
    return bool(summary["pending"] == 0)


async def test_events_published_before_the_service_first_starts_are_delivered(redis_url: str, redis: Redis) -> None:
    publisher = RedisBroker(redis_url)
    async with publisher:
        await publisher.start()
        await publisher.publish(Happened.new(n=1), stream=STREAM)

    broker = RedisBroker(redis_url)
    seen: list[int] = []

    @reliable_subscriber(broker, STREAM, group="late", consumer="c1", reclaim_idle_ms=200)
    async def handle(event: Happened) -> None:
        seen.append(event.n)

    assert await ensure_consumer_groups(broker, redis_url) == [(STREAM, "late")]
    async with broker:
        await broker.start()
        await broker.publish(Happened.new(n=2), stream=STREAM)
        await eventually(lambda: len(seen) == 2)

    assert seen == [1, 2]


async def test_a_busy_consumer_holds_only_the_entry_it_is_handling(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    release = asyncio.Event()
    seen: list[int] = []

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", reclaim_idle_ms=60_000)
    async def handle(event: Happened) -> None:
        seen.append(event.n)
        await release.wait()

    await ensure_consumer_groups(broker, redis_url)
    async with broker:
        await broker.start()
        for n in range(5):
            await broker.publish(Happened.new(n=n), stream=STREAM)
        await eventually(lambda: seen == [0])
        pending_while_busy = (await redis.xpending(STREAM, "g"))["pending"]
        release.set()
        await eventually(lambda: len(seen) == 5)

    assert pending_while_busy == 1
    assert seen == [0, 1, 2, 3, 4]


async def test_concurrent_subscriber_handles_several_entries_at_once(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    release = asyncio.Event()
    in_flight: set[int] = set()

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", concurrency=3)
    async def handle(event: Happened) -> None:
        in_flight.add(event.n)
        await release.wait()

    await ensure_consumer_groups(broker, redis_url)
    async with broker:
        await broker.start()
        for n in range(3):
            await broker.publish(Happened.new(n=n), stream=STREAM)
        await eventually(lambda: in_flight == {0, 1, 2}, message="entries were not handled concurrently")
        release.set()
        await eventually(lambda: _pending(redis), message="entries still pending")


async def test_an_entry_that_keeps_failing_is_parked_with_its_error(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    attempts: list[int] = []

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", reclaim_idle_ms=100, max_deliveries=3)
    async def handle(event: Happened) -> None:
        attempts.append(event.n)
        raise RuntimeError(f"cannot handle {event.n}")

    await ensure_consumer_groups(broker, redis_url)
    async with broker:
        await broker.start()
        event = Happened.new(n=9)
        await broker.publish(event, stream=STREAM)
        await eventually(lambda: _dead_letters(redis), message="entry was never parked")
        await eventually(lambda: _pending(redis), message="parked entry still pending")
        entries = await redis.xrange(dead_letter_stream(STREAM))

    assert entries is not None
    assert len(entries) == 1
    parked = entries[0][1]
    assert attempts == [9, 9, 9]
    assert parked[b"dead.error"] == b"cannot handle 9"
    assert parked[b"dead.error_type"] == b"RuntimeError"
    assert parked[b"dead.stream"] == STREAM.encode()
    assert parked[b"dead.group"] == b"g"
    assert parked[b"dead.deliveries"] == b"3"
    assert event.meta.message_id.encode() in parked[b"__data__"]


async def test_an_entry_that_does_not_fit_the_contract_is_parked_at_once(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    seen: list[int] = []

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", reclaim_idle_ms=100, max_deliveries=5)
    async def handle(event: Happened) -> None:
        seen.append(event.n)

    await ensure_consumer_groups(broker, redis_url)
    async with broker:
        await broker.start()
        await broker.publish({"n": "not a number"}, stream=STREAM)
        await broker.publish(Happened.new(n=2), stream=STREAM)
        await eventually(lambda: seen == [2], message="the valid entry behind the bad one was not handled")
        await eventually(lambda: _dead_letters(redis), message="bad entry was never parked")
        await eventually(lambda: _pending(redis), message="parked entry still pending")
        parked = await redis.xrange(dead_letter_stream(STREAM))

    assert parked is not None
    assert len(parked) == 1
    fields = parked[0][1]
    assert fields[b"dead.deliveries"] == b"1"
    assert b"n" in fields[b"dead.error"]
    assert b"not a number" in fields[b"__data__"]


async def test_an_entry_that_recovers_before_the_limit_is_not_parked(redis_url: str, redis: Redis) -> None:
    broker = RedisBroker(redis_url)
    attempts: list[int] = []

    @reliable_subscriber(broker, STREAM, group="g", consumer="c1", reclaim_idle_ms=100, max_deliveries=3)
    async def handle(event: Happened) -> None:
        attempts.append(event.n)
        if len(attempts) < 3:
            raise RuntimeError("transient failure")

    await ensure_consumer_groups(broker, redis_url)
    async with broker:
        await broker.start()
        await broker.publish(Happened.new(n=4), stream=STREAM)
        await eventually(lambda: len(attempts) == 3)
        await eventually(lambda: _pending(redis), message="entry still pending")

    assert attempts == [4, 4, 4]
    assert await redis.xlen(dead_letter_stream(STREAM)) == 0


async def _dead_letters(redis: Redis) -> bool:
    return bool(await redis.xlen(dead_letter_stream(STREAM)) > 0)
