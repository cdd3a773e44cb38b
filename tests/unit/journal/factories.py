"""Trade terms for unit tests, with defaults that make a valid long trade."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chartwise_contracts.journal import TradeSide
from chartwise_journal.trade import Derived, Trade, TradeTerms, derive

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def terms(**overrides: Any) -> TradeTerms:
    values: dict[str, Any] = {
        "symbol": "AAPL",
        "side": TradeSide.BUY,
        "quantity": Decimal(10),
        "entry_price": Decimal(100),
        "entered_at": T0,
    }
    values.update(overrides)
    return TradeTerms(**values)


def trade(trade_id: str, **overrides: Any) -> Trade:
    stated = terms(**overrides)
    derived: Derived = derive(stated)
    return Trade(
        id=trade_id,
        user_id="u1",
        client_key=trade_id,
        terms=stated,
        derived=derived,
        request_hash="",
        created_at=T0,
        updated_at=T0,
    )
