"""Job events in FastStream's own stream wire format, so any FastStream subscriber reads them typed.

`faststream.redis` publishes a stream message as one field, `__data__`, holding its binary frame
(`BinaryMessageFormatV1`): a magic header, version 1, offsets, the headers as length-prefixed strings,
then the body. The frame is built here directly, because the library's async encoder costs more than
the rest of a no-op job; a test proves a real `RedisBroker` subscriber parses it.
"""

from __future__ import annotations

from struct import pack
from typing import Any, TypeVar

from faststream.redis.message import DATA_KEY
from faststream.redis.parser import BinaryMessageFormatV1

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


def encode_event(event: Event) -> bytes:
    """The bytes `RedisBroker.publish(event, stream=...)` would write, with the envelope's ids as headers."""
    headers = {
        "correlation_id": event.meta.correlation_id,
        "content-type": "application/json",
        "message_id": event.meta.message_id,
        "message_type": type(event).__name__,
    }
    return encode_frame(event.model_dump_json().encode(), headers)


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
