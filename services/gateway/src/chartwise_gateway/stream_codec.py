"""Reads the body of a stream entry published by FastStream (one `__data__` field, binary frame or JSON)."""

from __future__ import annotations

from faststream.redis.message import DATA_KEY
from faststream.redis.parser import BinaryMessageFormatV1

_DATA_FIELD = DATA_KEY.encode()


def entry_body(fields: dict[bytes, bytes]) -> bytes | None:
    """The message body of one stream entry, or None for an entry FastStream did not write."""
    data = fields.get(_DATA_FIELD)
    if data is None:
        return None
    if data.startswith(BinaryMessageFormatV1.IDENTITY_HEADER):
        body, _ = BinaryMessageFormatV1.parse(data)
        return body
    return data
