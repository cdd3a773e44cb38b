"""Statistics over stored entries, CSV import (idempotent, row errors) and export round trip."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from chartwise_contracts.journal import MAX_IMPORT_ROWS, TradeFilter
from chartwise_journal import service
from chartwise_journal.repository import COLLECTION, MongoTradeStore
from chartwise_runtime.errors import InvalidInput
from chartwise_runtime.mongo import Database
from tests.integration.journal.conftest import T0, trade_input

CSV = """Date,Time,Symbol,Quantity,Price,Side,Commission,Fees,Exit Date,Exit Time,Exit Price,Stop Loss,Strategy
2026-02-02,09:30:00,AAPL,10,100,Buy,1,1,2026-02-02,10:30:00,110,95,Breakout
2026-02-03,09:30:00,AAPL,5,200,Sell,0.5,0.5,2026-02-03,11:00:00,210,204,Breakout
2026-02-04,09:30:00,MSFT,2,50,Buy,0,0,2026-02-04,12:00:00,45,,
2026-02-05,09:30:00,TSLA,1,300,Buy,,,2026-02-05,15:00:00,360,280,Swing
2026-02-06,09:30:00,NVDA,0,120,Buy,,,,,,,
2026-02-07,25:00:00,AMD,3,100,Buy,,,,,,,
"""


async def test_import_adds_valid_rows_and_reports_the_rest(store: MongoTradeStore, mongo_db: Database) -> None:
    report = await service.import_csv(store, user_id="u1", csv_text=CSV, timezone="UTC")

    assert len(report.imported) == 4
    assert report.skipped_duplicates == 0
    assert [(e.row, e.column) for e in report.row_errors] == [(6, "quantity"), (7, "time")]
    assert await mongo_db[COLLECTION].count_documents({"user_id": "u1"}) == 4
    assert await mongo_db[COLLECTION].count_documents({"symbol": {"$in": ["NVDA", "AMD"]}}) == 0


async def test_reimport_skips_every_row_already_imported(store: MongoTradeStore, mongo_db: Database) -> None:
    await service.import_csv(store, user_id="u1", csv_text=CSV, timezone="UTC")
    extended = CSV + "2026-02-09,09:30:00,META,4,500,Buy,,,,,,,\n"

    again = await service.import_csv(store, user_id="u1", csv_text=extended, timezone="UTC")

    assert (len(again.imported), again.skipped_duplicates) == (1, 4)
    assert await mongo_db[COLLECTION].count_documents({"user_id": "u1"}) == 5


async def test_stats_over_imported_trades_match_hand_computed_figures(store: MongoTradeStore) -> None:
    await service.import_csv(store, user_id="u1", csv_text=CSV, timezone="UTC")
    await service.add_trade(store, user_id="u1", client_key="open", data=trade_input(symbol="MSFT", strategy="Swing"))

    stats = await service.journal_stats(store, user_id="u1", filter=TradeFilter())
    breakout = await service.journal_stats(store, user_id="u1", filter=TradeFilter(strategy="Breakout"))

    # Same trades as tests/unit/journal/test_statistics.py: net 98, -51, -10, 60 in exit order.
    assert (stats.trades, stats.closed_trades, stats.open_trades) == (5, 4, 1)
    assert (stats.net_pnl, stats.win_rate, stats.profit_factor) == (Decimal(97), Decimal("0.5"), Decimal("2.5902"))
    assert (stats.expectancy, stats.average_r, stats.max_drawdown) == (Decimal("24.25"), Decimal("0.8033"), Decimal(61))
    assert (breakout.closed_trades, breakout.net_pnl, breakout.win_rate) == (2, Decimal(47), Decimal("0.5"))
    assert await service.journal_stats(store, user_id="u2", filter=TradeFilter()) == await service.journal_stats(
        store, user_id="nobody", filter=TradeFilter()
    )


async def test_export_then_import_for_another_user_reproduces_the_journal(store: MongoTradeStore) -> None:
    await service.import_csv(store, user_id="u1", csv_text=CSV, timezone="UTC")
    await service.add_trade(
        store,
        user_id="u1",
        client_key="rich",
        data=trade_input(
            tags=["gap", "news"],
            sentiment="bullish",
            notes='held through "news",\nthen sold',
            take_profit=Decimal("120.125"),
            entered_at=T0 + timedelta(milliseconds=250),
        ),
    )

    text, rows, cursor = await service.export_csv(store, user_id="u1", filter=TradeFilter(), cursor=None, limit=100)
    report = await service.import_csv(store, user_id="u2", csv_text=text, timezone="UTC")

    originals, _ = await service.list_trades(store, user_id="u1", filter=TradeFilter(), cursor=None, limit=100)
    copies, _ = await service.list_trades(store, user_id="u2", filter=TradeFilter(), cursor=None, limit=100)
    assert (rows, cursor, len(report.imported), report.row_errors) == (5, None, 5, [])
    assert [c.terms for c in copies] == [o.terms for o in originals]
    assert [c.derived for c in copies] == [o.derived for o in originals]


async def test_export_comes_in_chunks_followed_by_cursor(store: MongoTradeStore) -> None:
    await service.import_csv(store, user_id="u1", csv_text=CSV, timezone="UTC")

    first, rows, cursor = await service.export_csv(store, user_id="u1", filter=TradeFilter(), cursor=None, limit=3)
    second, more, end = await service.export_csv(store, user_id="u1", filter=TradeFilter(), cursor=cursor, limit=3)

    assert (rows, more, end) == (3, 1, None)
    assert first.splitlines()[0] == second.splitlines()[0]


async def test_file_over_the_row_limit_is_refused_whole(store: MongoTradeStore, mongo_db: Database) -> None:
    row = "2026-02-09,09:30:00,META,4,500,Buy\n"
    text = "Date,Time,Symbol,Quantity,Price,Side\n" + row * (MAX_IMPORT_ROWS + 1)

    with pytest.raises(InvalidInput, match="rows"):
        await service.import_csv(store, user_id="u1", csv_text=text, timezone="UTC")

    assert await mongo_db[COLLECTION].count_documents({}) == 0
