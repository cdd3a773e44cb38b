"""Opaque keyset cursors: the (created at, id) of the last analysis of a page, base64 encoded."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from chartwise_runtime.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Position:
    created_at: datetime
    analysis_id: str


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.created_at.isoformat(), position.analysis_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    invalid = InvalidInput("cursor is not one this service issued", details={"fields": {"cursor": "invalid"}})
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, analysis_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise invalid from error
    if at.tzinfo is None or not isinstance(analysis_id, str) or not analysis_id:
        raise invalid
    return Position(at, analysis_id)
