"""Answers a request whose body does not fit its contract with an `invalid_input` error reply.

FastStream validates the body before the handler runs, so without this the caller would wait out its
timeout instead of learning which field was wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream import StreamMessage
from faststream.middlewares import BaseMiddleware
from pydantic import ValidationError

from chartwise_contracts import Envelope, ErrorReply
from chartwise_journal.validation import invalid_from_validation_error
from chartwise_runtime.logging import get_logger

log = get_logger(__name__)


class InvalidRequestReplies(BaseMiddleware):
    async def consume_scope(
        self,
        call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
        msg: StreamMessage[Any],
    ) -> Any:
        try:
            return await call_next(msg)
        except ValidationError as error:
            refusal = invalid_from_validation_error(error, prefix="msg")
            log.info("request refused", code=refusal.code, reason=refusal.message)
            return ErrorReply(
                meta=_reply_envelope(await msg.decode()),
                code=refusal.code,
                message=refusal.message[:2000],
                details=refusal.details,
            )


def _reply_envelope(body: Any) -> Envelope:
    """The envelope of a reply caused by the request, when the request's own envelope can be read."""
    meta = body.get("meta") if isinstance(body, dict) else None
    try:
        return Envelope.model_validate(meta).caused()
    except ValidationError:
        return Envelope()
