"""Request/reply over Redis streams: typed replies, domain errors carried as `ErrorReply`, hard timeouts."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from faststream.redis import RedisBroker

from chartwise_contracts import ErrorReply, Message, Reply
from chartwise_runtime.errors import DomainError, ServiceUnavailable, error_from_code
from chartwise_runtime.logging import get_logger

P = ParamSpec("P")
R = TypeVar("R", bound=Reply)

RPC_STREAM_MAXLEN = 10_000

log = get_logger(__name__)


def replies_with_errors(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | ErrorReply]]:
    """Turns a `DomainError` raised by a request handler into an `ErrorReply` caused by the request."""

    @functools.wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ErrorReply:
        try:
            return await handler(*args, **kwargs)
        except DomainError as error:
            request = next((a for a in (*args, *kwargs.values()) if isinstance(a, Message)), None)
            log.info("request refused", code=error.code, reason=error.message)
            fields: dict[str, Any] = {"code": error.code, "message": error.message, "details": error.details}
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
        response = await broker.request(
            message,
            stream=subject,
            maxlen=RPC_STREAM_MAXLEN,
            correlation_id=message.meta.correlation_id,
            timeout=timeout,
        )
    except TimeoutError as error:
        raise ServiceUnavailable(f"{subject} did not answer within {timeout:g}s") from error
    body = await response.decode()
    if isinstance(body, dict) and body.get("kind") == "error":
        error_reply = ErrorReply.model_validate(body)
        raise error_from_code(error_reply.code, error_reply.message, error_reply.details)
    return reply_type.model_validate(body)


async def publish(broker: RedisBroker, message: Message, *, stream: str, maxlen: int) -> None:
    """Appends a message to a stream, trimming it approximately to `maxlen`."""
    await broker.publish(message, stream=stream, maxlen=maxlen, correlation_id=message.meta.correlation_id)
