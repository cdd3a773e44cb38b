from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chartwise_contracts.journal import TradeInput
from chartwise_journal.repository import INDEXES, MongoTradeStore
from chartwise_runtime.mongo import Database, ensure_indexes

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


@pytest.fixture
async def store(mongo_db: Database) -> MongoTradeStore:
    await ensure_indexes(mongo_db, INDEXES)
    return MongoTradeStore(mongo_db)


def trade_input(minutes: int = 0, **overrides: Any) -> TradeInput:
    """A valid long AAPL trade entered `minutes` after T0."""
    values: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": Decimal(10),
        "entry_price": Decimal(100),
        "entered_at": T0 + timedelta(minutes=minutes),
    }
    values.update(overrides)
    return TradeInput.model_validate(values)
