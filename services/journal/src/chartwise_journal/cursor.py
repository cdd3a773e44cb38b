"""Opaque keyset cursors: the (entry time, id) of the last entry of a page, base64 encoded."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from chartwise_runtime.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Position:
    entered_at: datetime
    trade_id: str


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.entered_at.isoformat(), position.trade_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        entered_at, trade_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(entered_at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "cursor is not one this service issued", details={"fields": {"cursor": "invalid"}}
        ) from error
    if at.tzinfo is None or not isinstance(trade_id, str) or not trade_id:
        raise InvalidInput("cursor is not one this service issued", details={"fields": {"cursor": "invalid"}})
    return Position(at, trade_id)
