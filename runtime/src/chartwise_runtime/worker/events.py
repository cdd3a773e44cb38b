"""Job events in FastStream's own stream wire format, so any FastStream subscriber reads them typed.

`faststream.redis` publishes a stream message as one field, `__data__`, holding its binary frame
(`BinaryMessageFormatV1`): a magic header, version 1, offsets, the headers as length-prefixed strings,
then the body. The frame is built here directly, because the library's async encoder costs more than
the rest of a no-op job; a test proves a real `RedisBroker` subscriber parses it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from struct import pack
from typing import Any, Generic, TypeVar

from faststream.redis.message import DATA_KEY
from faststream.redis.parser import BinaryMessageFormatV1
from pydantic_core import to_json

from chartwise_contracts.envelope import Envelope, new_id, utcnow
from chartwise_contracts.messages import Event

EVENT_FIELD = DATA_KEY
"""The stream-entry field FastStream publishes to and parses from."""

E = TypeVar("E", bound=Event)

_MAGIC = BinaryMessageFormatV1.IDENTITY_HEADER
_VERSION = 1
_PREFIX_LEN = len(_MAGIC) + 2 + 4 + 4


def _string(value: str) -> bytes:
    data = value.encode()
    return pack(">H", len(data)) + data


def encode_frame(body: bytes, headers: dict[str, str]) -> bytes:
    """FastStream's binary message frame around `body`, as `BinaryMessageFormatV1.encode` writes it."""
    encoded_headers = b"".join(_string(key) + _string(value) for key, value in headers.items())
    headers_start = _PREFIX_LEN
    data_start = headers_start + 2 + len(encoded_headers)
    return b"".join(
        (
            _MAGIC,
            pack(">HIIH", _VERSION, headers_start, data_start, len(headers)),
            encoded_headers,
            body,
        )
    )


_CORRELATION_ID = _string("correlation_id")
_CONTENT_TYPE = _string("content-type") + _string("application/json")
_MESSAGE_ID = _string("message_id")
_MESSAGE_TYPE = _string("message_type")


def _event_frame(body: bytes, *, correlation_id: str, message_id: str, message_type: str) -> bytes:
    """`encode_frame` with the four headers of an event, their constant parts encoded once."""
    headers = b"".join(
        (
            _CORRELATION_ID,
            _string(correlation_id),
            _CONTENT_TYPE,
            _MESSAGE_ID,
            _string(message_id),
            _MESSAGE_TYPE,
            _string(message_type),
        )
    )
    prefix = pack(">HIIH", _VERSION, _PREFIX_LEN, _PREFIX_LEN + 2 + len(headers), 4)
    return b"".join((_MAGIC, prefix, headers, body))


def encode_event(event: Event) -> bytes:
    """The bytes `RedisBroker.publish(event, stream=...)` would write, with the envelope's ids as headers."""
    meta = event.meta
    return _event_frame(
        event.model_dump_json().encode(),
        correlation_id=meta.correlation_id,
        message_id=meta.message_id,
        message_type=type(event).__name__,
    )


class _Ids:
    """Message ids as `new_id` makes them (32 random hex digits), drawn from one larger read of the OS's source."""

    def __init__(self) -> None:
        self._pool = ""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * 256).hex(), 0
        self._at += 32
        return self._pool[self._at - 32 : self._at]

    def reset(self) -> None:
        self._pool, self._at = "", 0


_ids = _Ids()
# A forked child must not hand out the ids its parent's pool still holds.
os.register_at_fork(after_in_child=_ids.reset)


@dataclass(frozen=True, slots=True)
class EncodedEvent(Generic[E]):
    """An event encoded for the stream straight from its fields; the model is built only if someone asks."""

    event_type: type[E]
    meta: dict[str, Any]
    fields: dict[str, Any]
    frame: bytes

    def model(self) -> E:
        meta = Envelope.model_construct(**self.meta)
        event: E = self.event_type.model_construct(meta=meta, **self.fields)  # type: ignore[assignment]
        return event


def encoded_event(
    event_type: type[E], *, correlation_id: str, actor: str | None, occurred_at: datetime, **fields: Any
) -> EncodedEvent[E]:
    """The frame `encode_event` would write for the event with these fields (valid already), without the model.

    `fields` are given in the model's field order (the job event fields, then `kind`, then the type's own), so the
    body is the one `model_dump_json` writes.
    """
    message_id = _ids.next()
    correlation_id = correlation_id or message_id
    meta = {
        "message_id": message_id,
        "correlation_id": correlation_id,
        "causation_id": None,
        "occurred_at": occurred_at,
        "schema_version": event_type.SCHEMA_VERSION,
        "actor": actor,
    }
    body = to_json({"meta": meta, **fields})
    frame = _event_frame(body, correlation_id=correlation_id, message_id=message_id, message_type=event_type.__name__)
    return EncodedEvent(event_type, meta, fields, frame)


def new_event(event_type: type[E], *, correlation_id: str, actor: str | None, **fields: Any) -> E:
    """An event built from values the worker already holds valid, skipping validation on the hot path."""
    message_id = new_id()
    meta = Envelope.model_construct(
        message_id=message_id,
        correlation_id=correlation_id or message_id,
        causation_id=None,
        occurred_at=utcnow(),
        schema_version=event_type.SCHEMA_VERSION,
        actor=actor,
    )
    event: E = event_type.model_construct(meta=meta, **fields)  # type: ignore[assignment]
    return event
