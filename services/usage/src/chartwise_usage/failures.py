"""Every request gets an answer: a failure no handler foresaw is answered as an error, never with silence.

`chartwise_runtime.rpc.replies_with_errors` turns only a `DomainError` into an `ErrorReply`; anything else
escaped the handler, FastStream logged it and sent nothing, and the caller waited out its timeout.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from chartwise_runtime.errors import DomainError
from chartwise_runtime.logging import get_logger

P = ParamSpec("P")
R = TypeVar("R")

log = get_logger(__name__)


class InternalError(DomainError):
    """The service failed in a way it did not foresee; the gateway answers 502 for a code it does not know."""

    code = "internal_error"


def unforeseen_failures_as_errors(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Re-raises an unexpected exception of `handler` as `InternalError`, for `replies_with_errors` to answer."""

    @functools.wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        except DomainError:
            raise
        except Exception as error:
            log.exception("request failed unexpectedly", handler=handler.__name__)
            raise InternalError(
                "the usage service failed to handle the request", details={"error": type(error).__name__}
            ) from error

    return wrapped
