from datetime import UTC, datetime

import pytest

from chartwise_journal.cursor import Position, decode_cursor, encode_cursor
from chartwise_runtime.errors import InvalidInput


def test_cursor_round_trips_its_position() -> None:
    position = Position(datetime(2026, 5, 1, 9, 30, 0, 123000, tzinfo=UTC), "abc123")

    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize("cursor", ["not-base64!", "bm9wZQ", "WzEsMl0", "WyIyMDI2LTAxLTAxIiwiaWQiXQ"])
def test_foreign_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor)
