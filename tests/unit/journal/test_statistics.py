"""Statistics checked against figures worked out by hand (see each comment)."""

from datetime import timedelta
from decimal import Decimal

from chartwise_contracts.journal import TradeSide
from chartwise_journal.stats import compute_stats, max_drawdown
from chartwise_journal.trade import Trade
from tests.unit.journal.factories import T0, trade


def _journal() -> list[Trade]:
    hour = timedelta(hours=1)
    return [
        # net 98, R 1.96
        trade(
            "t1",
            exit_price=Decimal(110),
            exited_at=T0 + hour,
            stop_loss=Decimal(95),
            fees=Decimal(2),
            strategy="breakout",
        ),
        # short: gross -50, net -51, risk 20, R -2.55
        trade(
            "t2",
            side=TradeSide.SELL,
            quantity=Decimal(5),
            entry_price=Decimal(200),
            exit_price=Decimal(210),
            exited_at=T0 + 2 * hour,
            stop_loss=Decimal(204),
            fees=Decimal(1),
            strategy="breakout",
        ),
        # net -10, no stop
        trade(
            "t3",
            symbol="MSFT",
            quantity=Decimal(2),
            entry_price=Decimal(50),
            exit_price=Decimal(45),
            exited_at=T0 + 3 * hour,
        ),
        # net 60, R 3
        trade(
            "t4",
            symbol="TSLA",
            quantity=Decimal(1),
            entry_price=Decimal(300),
            exit_price=Decimal(360),
            exited_at=T0 + 4 * hour,
            stop_loss=Decimal(280),
            strategy="swing",
        ),
        trade("t5", symbol="MSFT", quantity=Decimal(1), entry_price=Decimal(10), strategy="swing"),
    ]


def test_statistics_match_hand_computed_figures() -> None:
    stats = compute_stats(_journal())

    assert (stats.trades, stats.open_trades, stats.closed_trades) == (5, 1, 4)
    assert (stats.wins, stats.losses, stats.breakeven) == (2, 2, 0)
    assert stats.win_rate == Decimal("0.5")
    assert stats.gross_pnl == Decimal(100)
    assert stats.fees == Decimal(3)
    assert stats.net_pnl == Decimal(97)
    assert stats.average_win == Decimal(79)  # (98 + 60) / 2
    assert stats.average_loss == Decimal("-30.5")  # (-51 - 10) / 2
    assert stats.profit_factor == Decimal("2.5902")  # 158 / 61
    assert stats.expectancy == Decimal("24.25")  # 97 / 4
    assert stats.average_r == Decimal("0.8033")  # (1.96 - 2.55 + 3) / 3
    assert stats.best_trade is not None
    assert stats.best_trade.trade_id == "t1"
    assert stats.worst_trade is not None
    assert stats.worst_trade.net_pnl == Decimal(-51)
    assert stats.max_drawdown == Decimal(61)  # equity 98, 47, 37, 97: peak 98 down to 37


def test_breakdowns_by_symbol_and_strategy_cover_closed_trades() -> None:
    stats = compute_stats(_journal())

    by_symbol = {row.key: (row.trades, row.wins, row.losses, row.net_pnl, row.win_rate) for row in stats.by_symbol}
    by_strategy = {row.key: (row.trades, row.net_pnl) for row in stats.by_strategy}
    assert by_symbol == {
        "AAPL": (2, 1, 1, Decimal(47), Decimal("0.5")),
        "MSFT": (1, 0, 1, Decimal(-10), Decimal(0)),
        "TSLA": (1, 1, 0, Decimal(60), Decimal(1)),
    }
    assert [row.key for row in stats.by_symbol] == ["AAPL", "MSFT", "TSLA"]
    assert by_strategy == {"breakout": (2, Decimal(47)), None: (1, Decimal(-10)), "swing": (1, Decimal(60))}


def test_empty_journal_has_zero_figures_and_no_ratios() -> None:
    stats = compute_stats([])

    assert stats.trades == 0
    assert stats.win_rate is None
    assert stats.profit_factor is None
    assert stats.expectancy is None
    assert stats.best_trade is None
    assert stats.max_drawdown == 0


def test_profit_factor_is_absent_without_losses() -> None:
    stats = compute_stats(_journal()[3:4])

    assert stats.profit_factor is None
    assert stats.win_rate == 1


def test_drawdown_counts_from_the_starting_balance() -> None:
    assert max_drawdown([Decimal(-5), Decimal(10), Decimal(-3), Decimal(-4)]) == Decimal(7)
