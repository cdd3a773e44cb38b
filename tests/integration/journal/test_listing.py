"""Listing: newest first, keyset cursors that stay stable while entries arrive, numbered pages, filters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chartwise_contracts.journal import TradeFilter, TradeSide, TradeStatus
from chartwise_journal import service
from chartwise_journal.repository import COLLECTION, MongoTradeStore
from chartwise_journal.trade import Trade
from chartwise_runtime.errors import InvalidInput
from chartwise_runtime.mongo import Database
from tests.integration.journal.conftest import T0, trade_input


async def _add(store: MongoTradeStore, key: str, minutes: int, user_id: str = "u1", **fields: Any) -> Trade:
    trade, _ = await service.add_trade(store, user_id=user_id, client_key=key, data=trade_input(minutes, **fields))
    return trade


async def _all_pages(store: MongoTradeStore, filter: TradeFilter, limit: int) -> list[Trade]:
    seen: list[Trade] = []
    cursor: str | None = None
    while True:
        items, cursor = await service.list_trades(store, user_id="u1", filter=filter, cursor=cursor, limit=limit)
        seen.extend(items)
        if cursor is None:
            return seen


async def test_empty_journal_is_an_empty_page(store: MongoTradeStore) -> None:
    items, cursor = await service.list_trades(store, user_id="nobody", filter=TradeFilter(), cursor=None, limit=50)

    assert (items, cursor) == ([], None)


async def test_newest_first_with_ties_broken_by_id(store: MongoTradeStore) -> None:
    trades = [await _add(store, f"k{i}", minutes=i // 3) for i in range(9)]

    listed = await _all_pages(store, TradeFilter(), limit=4)

    expected = sorted(trades, key=lambda t: (t.terms.entered_at, t.id), reverse=True)
    assert [t.id for t in listed] == [t.id for t in expected]


async def test_cursor_pages_stay_stable_while_entries_are_added(store: MongoTradeStore) -> None:
    original = [await _add(store, f"k{i}", minutes=i) for i in range(12)]
    first, cursor = await service.list_trades(store, user_id="u1", filter=TradeFilter(), cursor=None, limit=5)

    newer = [await _add(store, f"new{i}", minutes=100 + i) for i in range(3)]
    older = await _add(store, "older", minutes=-5)
    tie = await _add(store, "tie", minutes=7)  # the entry time of the last entry on the first page
    rest: list[Trade] = []
    while cursor is not None:
        items, cursor = await service.list_trades(store, user_id="u1", filter=TradeFilter(), cursor=cursor, limit=5)
        rest.extend(items)

    seen = [t.id for t in first + rest]
    assert len(seen) == len(set(seen))
    assert {t.id for t in original} <= set(seen)
    assert not {t.id for t in newer} & set(seen)
    assert older.id in seen
    # An entry at the cursor's own time comes on a later page exactly when its id sorts below the cursor's.
    assert (tie.id in seen) == (tie.id < first[-1].id)
    assert [t.id for t in first] == [t.id for t in reversed(original[7:])]


async def test_numbered_pages_are_bounded_and_past_the_end_is_empty(store: MongoTradeStore) -> None:
    trades = [await _add(store, f"k{i}", minutes=i) for i in range(5)]

    page2, _ = await service.list_trades_by_page(store, user_id="u1", filter=TradeFilter(), page=2, per_page=2)
    page9, cursor = await service.list_trades_by_page(store, user_id="u1", filter=TradeFilter(), page=9, per_page=2)

    assert [t.id for t in page2] == [trades[2].id, trades[1].id]
    assert (page9, cursor) == ([], None)


async def test_filters_select_by_symbol_side_tag_strategy_status_and_window(store: MongoTradeStore) -> None:
    closed: dict[str, Any] = {"exit_price": Decimal(101), "exited_at": T0 + timedelta(days=1)}
    a = await _add(store, "a", 0, symbol="aapl", tags=["Gap"], strategy="Breakout", **closed)
    b = await _add(store, "b", 10, symbol="MSFT", side="sell", tags=["gap", "news"])
    c = await _add(store, "c", 20, symbol="AAPL", strategy="Swing")
    await _add(store, "other", 5, user_id="u2", symbol="AAPL")

    async def ids(**conditions: object) -> set[str]:
        return {t.id for t in await _all_pages(store, TradeFilter.model_validate(conditions), limit=2)}

    assert await ids(symbol="AAPL") == {a.id, c.id}
    assert await ids(side=TradeSide.SELL) == {b.id}
    assert await ids(tag="GAP") == {a.id, b.id}
    assert await ids(strategy="Breakout") == {a.id}
    assert await ids(status=TradeStatus.OPEN) == {b.id, c.id}
    assert await ids(status=TradeStatus.CLOSED, symbol="AAPL") == {a.id}
    assert await ids(entered_from=T0 + timedelta(minutes=10), entered_to=T0 + timedelta(minutes=20)) == {b.id}


async def test_inverted_date_window_is_invalid_input(store: MongoTradeStore) -> None:
    window = TradeFilter(entered_from=T0, entered_to=T0 - timedelta(days=1))

    with pytest.raises(InvalidInput):
        await service.list_trades(store, user_id="u1", filter=window, cursor=None, limit=10)


async def test_listing_indexes_lead_with_the_owner(store: MongoTradeStore, mongo_db: Database) -> None:
    info = await mongo_db[COLLECTION].index_information()

    keys = [[field for field, _ in spec["key"]] for spec in info.values()]
    assert ["user_id", "entered_at", "trade_id"] in keys
    for field in ("symbol", "status", "strategy", "tags"):
        assert ["user_id", field, "entered_at", "trade_id"] in keys
    unique = [spec for spec in info.values() if spec.get("unique")]
    assert [[f for f, _ in spec["key"]] for spec in unique] == [["user_id", "client_key"]]
