from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from chartwise_contracts.journal import TradeInput, TradeSide
from chartwise_journal.validation import ensure_valid, invalid_from_validation_error, trade_problems
from chartwise_runtime.errors import InvalidInput
from tests.unit.journal.factories import T0, terms


def test_valid_trade_has_no_problems() -> None:
    assert trade_problems(terms(stop_loss=Decimal(95), take_profit=Decimal(120))) == {}


def test_exit_before_entry_is_refused() -> None:
    problems = trade_problems(terms(exit_price=Decimal(101), exited_at=T0 - timedelta(seconds=1)))

    assert problems == {"exited_at": "must not be before the entry time"}


def test_stop_must_be_below_entry_for_a_buy_and_above_for_a_sell() -> None:
    long_problems = trade_problems(terms(stop_loss=Decimal(100)))
    short_problems = trade_problems(terms(side=TradeSide.SELL, stop_loss=Decimal(99)))

    assert long_problems == {"stop_loss": "must be below the entry price for a buy trade"}
    assert short_problems == {"stop_loss": "must be above the entry price for a sell trade"}


def test_take_profit_on_the_losing_side_is_refused() -> None:
    assert "take_profit" in trade_problems(terms(take_profit=Decimal(90)))


def test_exit_price_without_exit_time_is_refused() -> None:
    assert trade_problems(terms(exit_price=Decimal(101))) == {
        "exited_at": "exit price and exit time go together: give both or neither"
    }


def test_invalid_terms_raise_invalid_input_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        ensure_valid(terms(quantity=Decimal(0), entry_price=Decimal(-1)))

    assert set(raised.value.details["fields"]) == {"quantity", "entry_price"}


def test_contract_refuses_negative_prices_and_zero_quantity_with_field_messages() -> None:
    with pytest.raises(ValidationError) as raised:
        TradeInput.model_validate(
            {
                "symbol": "AAPL",
                "side": "buy",
                "quantity": "0",
                "entry_price": "-5",
                "entered_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            }
        )

    fields = invalid_from_validation_error(raised.value).details["fields"]
    assert fields["quantity"] == "Input should be greater than 0"
    assert fields["entry_price"] == "Input should be greater than or equal to 0"
