"""Request/reply over Redis streams: typed replies, domain errors carried as `ErrorReply`, hard timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, Protocol, TypeVar
from uuid import uuid4

from faststream import StreamMessage
from faststream.middlewares import BaseMiddleware
from faststream.redis import RedisBroker, RedisRouter
from pydantic import ValidationError
from redis.asyncio.client import PubSub

from chartwise_contracts import Envelope, ErrorReply, Message, Reply
from chartwise_runtime.broker import group_sub, is_invalid_body
from chartwise_runtime.errors import DomainError, InternalError, InvalidInput, ServiceUnavailable, error_from_code
from chartwise_runtime.logging import get_logger

P = ParamSpec("P")
R = TypeVar("R", bound=Reply)
H = TypeVar("H", bound=Callable[..., Awaitable[Any]])

RPC_STREAM_MAXLEN = 10_000
RPC_CONCURRENCY = 4
"""Requests of one operation a replica handles at once."""

log = get_logger(__name__)


def replies_with_errors(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | ErrorReply]]:
    """Answers every request: a `DomainError` becomes its `ErrorReply`, anything unforeseen `internal_error`.

    Without this, an unexpected exception reaches FastStream, which logs it and sends nothing, and the
    caller waits out its timeout.
    """

    @functools.wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ErrorReply:
        try:
            return await handler(*args, **kwargs)
        except DomainError as error:
            log.info("request refused", code=error.code, reason=error.message)
            fields: dict[str, Any] = {"code": error.code, "message": error.message, "details": error.details}
        except Exception as error:  # every request gets an answer, never silence and a timeout
            log.exception("request failed unexpectedly", handler=getattr(handler, "__name__", repr(handler)))
            fields = {
                "code": InternalError.code,
                "message": "the service failed to handle the request",
                "details": {"error": type(error).__name__},
            }
        request = next((a for a in (*args, *kwargs.values()) if isinstance(a, Message)), None)
        if request is None:
            return ErrorReply.new(**fields)
        return request.cause(ErrorReply, **fields)

    # FastStream casts a handler's result to its return annotation; the error reply must be allowed too.
    signature = inspect.signature(handler, eval_str=True)
    returns = signature.return_annotation
    wrapped.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=ErrorReply if returns is inspect.Signature.empty else returns | ErrorReply
    )
    return wrapped


class InvalidRequestReplies(BaseMiddleware):
    """Answers a request whose body does not fit its contract with an `invalid_input` reply naming the fields.

    FastStream validates the body before the handler runs, so `replies_with_errors` never sees this failure;
    without an answer the caller would wait out its timeout and the entry would stay pending for ever.
    The reply is sent and the entry acked like any other answered request.
    """

    async def consume_scope(
        self,
        call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
        msg: StreamMessage[Any],
    ) -> Any:
        try:
            return await call_next(msg)
        except Exception as error:
            if not is_invalid_body(error):
                raise
            original = error if isinstance(error, ValidationError) else error.original_error  # type: ignore[attr-defined]
            problems = invalid_fields(original)
            message = "; ".join(f"{field}: {text}" for field, text in problems.items())
            log.info("request refused", code=InvalidInput.code, reason=message)
            return ErrorReply(
                meta=_reply_envelope(await msg.decode()),
                code=InvalidInput.code,
                message=message[:2000],
                details={"fields": problems},
            )


def invalid_fields(error: ValidationError) -> dict[str, str]:
    """Each field of the request pydantic refused, with its message, by dotted path inside the message."""
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        # The first part of the location is the handler's parameter, not a field of the message.
        location = [str(part) for part in item["loc"][1:]]
        problems.setdefault(".".join(location) or "body", item["msg"])
    return problems


def _reply_envelope(body: Any) -> Envelope:
    """The envelope of a reply caused by the request, when the request's own envelope can be read."""
    meta = body.get("meta") if isinstance(body, dict) else None
    try:
        return Envelope.model_validate(meta).caused()
    except ValidationError:
        return Envelope()


class ReplyRouter:
    """All replies to one process arrive on one pub/sub channel and are routed to their callers.

    FastStream's own `request` subscribes a fresh pub/sub connection for every call, which caps a caller
    near a hundred requests a second; here one subscription serves every request of the broker.
    """

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        self.channel = f"chartwise.rpc.replies.{uuid4().hex}"
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._message_format = broker.config.broker_config.message_format

    async def _ensure_listening(self) -> None:
        if self._listener is not None and not self._listener.done():
            return
        async with self._lock:
            if self._listener is not None and not self._listener.done():
                return
            client = await self._broker.connect()
            pubsub = client.pubsub()
            await pubsub.subscribe(self.channel)
            self._listener = asyncio.create_task(self._listen(pubsub), name=f"rpc-replies-{self.channel}")

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None or message.get("type") != "message":
                    continue
                body, headers = self._message_format.parse(message["data"])
                waiter = self._pending.get(str(headers.get("correlation_id", "")))
                if waiter is not None and not waiter.done():
                    waiter.set_result(body)
        except Exception as error:  # noqa: BLE001 - every waiter learns that its reply can no longer arrive
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(ServiceUnavailable(f"reply channel lost: {error!r}"))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def request(self, message: Message, *, subject: str, timeout: float) -> bytes:
        await self._ensure_listening()
        routing_id = uuid4().hex
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[routing_id] = waiter
        try:
            await self._broker.publish(
                message, stream=subject, maxlen=RPC_STREAM_MAXLEN, reply_to=self.channel, correlation_id=routing_id
            )
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            self._pending.pop(routing_id, None)


_routers: weakref.WeakKeyDictionary[RedisBroker, ReplyRouter] = weakref.WeakKeyDictionary()


def reply_router(broker: RedisBroker) -> ReplyRouter:
    router = _routers.get(broker)
    if router is None:
        router = _routers[broker] = ReplyRouter(broker)
    return router


class Registrar(Protocol):
    """A broker or router that subscribers can be added to."""

    def include_router(self, router: RedisRouter, /) -> Any: ...


def serves_requests(
    registrar: Registrar, subject: str, *, group: str, consumer: str, concurrency: int = RPC_CONCURRENCY
) -> Callable[[H], H]:
    """Registers a request handler that serves up to `concurrency` requests at once in this replica.

    FastStream hands a stream subscriber one entry at a time, so each slot is a subscriber of its own
    (consumer `<consumer>:<slot>` in the operation's group); replicas and slots share the requests.
    A request whose body does not fit the handler's contract is answered `invalid_input`
    (`InvalidRequestReplies`); wrap the handler in `replies_with_errors` for the errors it raises itself.
    """

    def register(handler: H) -> H:
        # A router of its own carries the middleware to these subscribers only, not to event subscribers.
        router = RedisRouter(middlewares=[InvalidRequestReplies])
        for slot in range(concurrency):
            sub = group_sub(subject, group=group, consumer=f"{consumer}:{slot}")
            # Only the first slot describes the operation in the AsyncAPI document; the rest repeat it.
            router.subscriber(stream=sub, include_in_schema=slot == 0)(handler)
        registrar.include_router(router)
        return handler

    return register


async def request(
    broker: RedisBroker,
    message: Message,
    *,
    subject: str,
    reply_type: type[R],
    timeout: float,
) -> R:
    """Sends `message` to the service serving `subject` and returns its typed reply.

    Raises the `DomainError` the service answered with, or `ServiceUnavailable` when it does not answer
    within `timeout` seconds.
    """
    try:
        raw = await reply_router(broker).request(message, subject=subject, timeout=timeout)
    except TimeoutError as error:
        raise ServiceUnavailable(f"{subject} did not answer within {timeout:g}s") from error
    body = json.loads(raw)
    if isinstance(body, dict) and body.get("kind") == "error":
        error_reply = ErrorReply.model_validate(body)
        raise error_from_code(error_reply.code, error_reply.message, error_reply.details)
    return reply_type.model_validate(body)


async def publish(broker: RedisBroker, message: Message, *, stream: str, maxlen: int) -> None:
    """Appends a message to a stream, trimming it approximately to `maxlen`."""
    await broker.publish(message, stream=stream, maxlen=maxlen, correlation_id=message.meta.correlation_id)
