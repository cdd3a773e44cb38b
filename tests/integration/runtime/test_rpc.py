"""Request/reply between services: typed replies, domain errors carried across, timeouts as unavailability."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts import ErrorReply, Query, Reply
from chartwise_devtools.waiting import eventually
from chartwise_runtime.broker import ensure_consumer_groups, group_sub
from chartwise_runtime.errors import InternalError, InvalidInput, NotFound, ServiceUnavailable
from chartwise_runtime.rpc import replies_with_errors, request, serves_requests

SUBJECT = "test.rpc.lookup"


class Lookup(Query):
    key: str


class Found(Reply):
    key: str
    value: int


@pytest.fixture
async def broker(redis_url: str, redis: object) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(redis_url)

    @broker.subscriber(stream=group_sub(SUBJECT, group="svc", consumer="c1"))
    @replies_with_errors
    async def lookup(query: Lookup) -> Found:
        if query.key == "missing":
            raise NotFound("no such key", details={"key": query.key})
        if query.key == "boom":
            raise RuntimeError("a bug in the handler")
        return query.cause(Found, key=query.key, value=len(query.key))

    async with broker:
        await broker.start()
        yield broker


async def test_reply_is_typed_and_caused_by_the_request(broker: RedisBroker) -> None:
    query = Lookup.new(actor="u1", key="abc")

    reply = await request(broker, query, subject=SUBJECT, reply_type=Found, timeout=5)

    assert reply.value == 3
    assert reply.meta.causation_id == query.meta.message_id
    assert reply.meta.correlation_id == query.meta.correlation_id
    assert reply.meta.actor == "u1"


async def test_domain_error_is_raised_on_the_caller_side(broker: RedisBroker) -> None:
    with pytest.raises(NotFound) as raised:
        await request(broker, Lookup.new(key="missing"), subject=SUBJECT, reply_type=Found, timeout=5)

    assert raised.value.message == "no such key"
    assert raised.value.details == {"key": "missing"}


async def test_an_unforeseen_failure_is_answered_as_an_internal_error(broker: RedisBroker) -> None:
    with pytest.raises(InternalError) as raised:
        await request(broker, Lookup.new(key="boom"), subject=SUBJECT, reply_type=Found, timeout=5)

    assert raised.value.details == {"error": "RuntimeError"}


async def test_silence_becomes_service_unavailable(broker: RedisBroker) -> None:
    with pytest.raises(ServiceUnavailable):
        await request(broker, Lookup.new(key="x"), subject="test.rpc.nobody-listens", reply_type=Found, timeout=0.3)


async def test_concurrent_requests_each_get_their_own_reply(broker: RedisBroker) -> None:
    keys = [f"k{'x' * i}" for i in range(20)]

    replies = await asyncio.gather(
        *(request(broker, Lookup.new(key=k), subject=SUBJECT, reply_type=Found, timeout=5) for k in keys)
    )

    assert [(r.key, r.value) for r in replies] == [(k, len(k)) for k in keys]


def test_error_reply_is_marked_so_callers_can_tell_it_apart() -> None:
    assert ErrorReply.new(code="not_found", message="m").kind == "error"


async def test_many_requests_share_one_reply_subscription(broker: RedisBroker, redis: Redis) -> None:
    await asyncio.gather(
        *(request(broker, Lookup.new(key=f"k{i}"), subject=SUBJECT, reply_type=Found, timeout=5) for i in range(50))
    )

    channels = await redis.pubsub_channels("chartwise.rpc.replies.*")
    assert len(channels) == 1


async def test_an_operation_serves_several_requests_at_once(redis_url: str, redis: Redis) -> None:
    server = RedisBroker(redis_url)
    in_flight = 0
    most_in_flight = 0
    release = asyncio.Event()

    @serves_requests(server, "test.rpc.slow", group="svc", consumer="c1", concurrency=3)
    @replies_with_errors
    async def slow(query: Lookup) -> Found:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await release.wait()
        in_flight -= 1
        return query.cause(Found, key=query.key, value=0)

    await ensure_consumer_groups(server, redis_url)
    async with server:
        await server.start()
        calls = [
            asyncio.create_task(
                request(server, Lookup.new(key=str(i)), subject="test.rpc.slow", reply_type=Found, timeout=5)
            )
            for i in range(3)
        ]
        await eventually(lambda: most_in_flight == 3, message="requests were not served concurrently")
        release.set()
        replies = await asyncio.gather(*calls)

    assert sorted(r.key for r in replies) == ["0", "1", "2"]


async def test_a_request_breaking_the_contract_is_answered_invalid_input_and_acked(
    redis_url: str, redis: Redis
) -> None:
    server = RedisBroker(redis_url)
    handled: list[str] = []

    @serves_requests(server, "test.rpc.strict", group="svc", consumer="c1", concurrency=2)
    @replies_with_errors
    async def strict(query: Lookup) -> Found:
        handled.append(query.key)
        return query.cause(Found, key=query.key, value=1)

    await ensure_consumer_groups(server, redis_url)
    async with server:
        await server.start()
        bad = Lookup.new(actor="u1", key="k").model_copy(update={"key": ["not", "a", "string"]})

        with pytest.raises(InvalidInput) as raised:
            await request(server, bad, subject="test.rpc.strict", reply_type=Found, timeout=5)
        good = await request(server, Lookup.new(key="ok"), subject="test.rpc.strict", reply_type=Found, timeout=5)
        # The entry is acked just after its reply is sent, so the caller may see the reply first.
        await eventually(lambda: _nothing_pending(redis, "test.rpc.strict", "svc"), message="request still pending")

    assert list(raised.value.details["fields"]) == ["key"]
    assert "key" in raised.value.message
    assert handled == ["ok"]
    assert good.key == "ok"


async def _nothing_pending(redis: Redis, stream: str, group: str) -> bool:
    return bool((await redis.xpending(stream, group))["pending"] == 0)
