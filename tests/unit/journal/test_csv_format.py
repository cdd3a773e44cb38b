from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chartwise_contracts.journal import TradeSide
from chartwise_journal.csv_format import parse_csv, write_csv
from chartwise_runtime.errors import InvalidInput
from tests.unit.journal.factories import T0, trade

TRADERVUE = """Date,Time,Symbol,Quantity,Price,Side,Commission,Fees
01/15/2026,09:31:05,aapl,100,185.20,Buy,1.00,0.05
2026-01-15,10:02:00,MSFT,50,402.1,Short,1,0
"""


def test_tradervue_generic_columns_become_open_trades() -> None:
    parsed = parse_csv(TRADERVUE, user_id="u1")

    assert parsed.errors == []
    first, second = (row.terms for row in parsed.rows)
    assert (first.symbol, first.side, first.quantity, first.entry_price) == (
        "AAPL",
        TradeSide.BUY,
        Decimal(100),
        Decimal("185.20"),
    )
    assert first.entered_at == datetime(2026, 1, 15, 9, 31, 5, tzinfo=UTC)
    assert first.fees == Decimal("1.05")
    assert second.side is TradeSide.SELL
    assert first.exit_price is None


def test_dates_are_read_in_the_given_time_zone() -> None:
    parsed = parse_csv(TRADERVUE, user_id="u1", timezone="America/New_York")

    assert parsed.rows[0].terms.entered_at == datetime(2026, 1, 15, 14, 31, 5, tzinfo=UTC)


def test_row_with_problems_is_reported_by_line_and_column() -> None:
    text = TRADERVUE + "2026-01-16,10:00,TSLA,-3,abc,Buy,,\n2026-01-17,11:00,NVDA,1,5,hold,,\n"

    parsed = parse_csv(text, user_id="u1")

    assert len(parsed.rows) == 2
    reported = {(e.row, e.column) for e in parsed.errors}
    assert reported == {(4, "price"), (5, "side")}


def test_rule_broken_across_fields_names_the_column() -> None:
    text = "date,time,symbol,quantity,price,side,stop_loss\n2026-01-16,10:00,TSLA,3,100,buy,101\n"

    parsed = parse_csv(text, user_id="u1")

    assert parsed.rows == []
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "stop_loss")]


def test_same_row_gets_the_same_key_and_identical_rows_in_one_file_differ() -> None:
    text = TRADERVUE + "2026-01-15,10:02:00,MSFT,50,402.1,Short,1,0\n"

    once = parse_csv(text, user_id="u1")
    again = parse_csv(text, user_id="u1")
    other_user = parse_csv(text, user_id="u2")

    keys = [row.client_key for row in once.rows]
    assert keys == [row.client_key for row in again.rows]
    assert len(set(keys)) == 3
    assert not set(keys) & {row.client_key for row in other_user.rows}


def test_header_without_required_columns_is_refused() -> None:
    with pytest.raises(InvalidInput, match="price"):
        parse_csv("date,symbol,quantity,side\n", user_id="u1")


def test_export_then_parse_gives_back_the_same_terms() -> None:
    trades = [
        trade(
            "a",
            exit_price=Decimal("101.25"),
            exited_at=datetime(2026, 3, 2, 15, 0, 0, 250000, tzinfo=UTC),
            stop_loss=Decimal(99),
            take_profit=Decimal(110),
            fees=Decimal("0.5"),
            tags=("gap", "earnings"),
            strategy="Breakout",
            notes='said "wait", line\nbreak',
        ),
        trade("b", side=TradeSide.SELL, entered_at=T0),
    ]

    parsed = parse_csv(write_csv(trades), user_id="u1")

    assert parsed.errors == []
    assert [row.terms for row in parsed.rows] == [t.terms for t in trades]
