from datetime import timedelta
from decimal import Decimal

from chartwise_contracts.journal import TradeSide
from chartwise_journal.money import canonical
from chartwise_journal.trade import derive
from tests.unit.journal.factories import T0, terms


def test_closed_long_trade_derives_pnl_r_and_holding_time() -> None:
    derived = derive(
        terms(
            exit_price=Decimal(110),
            exited_at=T0 + timedelta(hours=2),
            stop_loss=Decimal(95),
            fees=Decimal(2),
        )
    )

    assert derived.gross_pnl == Decimal(100)
    assert derived.net_pnl == Decimal(98)
    assert derived.initial_risk == Decimal(50)
    assert derived.r_multiple == Decimal("1.96")
    assert derived.holding_seconds == 7200


def test_short_trade_gains_when_the_price_falls() -> None:
    derived = derive(
        terms(
            side=TradeSide.SELL,
            quantity=Decimal(5),
            entry_price=Decimal(200),
            exit_price=Decimal("190.5"),
            exited_at=T0 + timedelta(minutes=1),
            stop_loss=Decimal(204),
            fees=Decimal("1.25"),
        )
    )

    assert derived.gross_pnl == Decimal("47.5")
    assert derived.net_pnl == Decimal("46.25")
    assert derived.r_multiple == Decimal("2.3125")


def test_open_trade_has_risk_but_no_pnl() -> None:
    derived = derive(terms(stop_loss=Decimal(99)))

    assert derived.gross_pnl is None
    assert derived.net_pnl is None
    assert derived.r_multiple is None
    assert derived.holding_seconds is None
    assert derived.initial_risk == Decimal(10)


def test_trade_without_stop_has_no_r_multiple() -> None:
    derived = derive(terms(exit_price=Decimal(101), exited_at=T0))

    assert derived.net_pnl == Decimal(10)
    assert derived.r_multiple is None


def test_decimals_store_as_their_shortest_plain_form() -> None:
    assert canonical(Decimal("1.50")) == "1.5"
    assert canonical(Decimal("1E+2")) == "100"
    assert canonical(Decimal("0.00000001")) == "0.00000001"
    assert canonical(Decimal("-0.0")) == "0"
