"""The rules a journal entry must satisfy as a whole, each broken rule reported against its field."""

from __future__ import annotations

from pydantic import ValidationError

from chartwise_contracts.journal import TradeSide
from chartwise_journal.trade import TradeTerms
from chartwise_runtime.errors import InvalidInput


def trade_problems(terms: TradeTerms) -> dict[str, str]:
    """Every broken rule of `terms`, by field; empty when the entry is valid."""
    problems: dict[str, str] = {}
    if terms.quantity <= 0:
        problems["quantity"] = "must be greater than 0"
    for name in ("entry_price", "exit_price", "stop_loss", "take_profit", "fees"):
        value = getattr(terms, name)
        if value is not None and (not value.is_finite() or value < 0):
            problems[name] = "must be a number of at least 0"
    if (terms.exit_price is None) != (terms.exited_at is None):
        missing = "exited_at" if terms.exited_at is None else "exit_price"
        problems[missing] = "exit price and exit time go together: give both or neither"
    if terms.exited_at is not None and terms.exited_at < terms.entered_at:
        problems["exited_at"] = "must not be before the entry time"
    is_long = terms.side is TradeSide.BUY
    if terms.stop_loss is not None and "stop_loss" not in problems:
        losing_side = terms.stop_loss < terms.entry_price if is_long else terms.stop_loss > terms.entry_price
        if not losing_side:
            problems["stop_loss"] = (
                f"must be {'below' if is_long else 'above'} the entry price for a {terms.side} trade"
            )
    if terms.take_profit is not None and "take_profit" not in problems:
        winning_side = terms.take_profit > terms.entry_price if is_long else terms.take_profit < terms.entry_price
        if not winning_side:
            where = "above" if is_long else "below"
            problems["take_profit"] = f"must be {where} the entry price for a {terms.side} trade"
    return problems


def ensure_valid(terms: TradeTerms) -> None:
    problems = trade_problems(terms)
    if problems:
        raise InvalidInput(_summary(problems), details={"fields": problems})


def invalid_from_validation_error(error: ValidationError, *, prefix: str = "") -> InvalidInput:
    """An `InvalidInput` naming each field pydantic refused, with its message."""
    problems = field_messages(error, prefix=prefix)
    return InvalidInput(_summary(problems), details={"fields": problems})


def field_messages(error: ValidationError, *, prefix: str = "") -> dict[str, str]:
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = [str(part) for part in item["loc"]]
        if prefix and location and location[0] == prefix:
            location = location[1:]
        problems.setdefault(".".join(location) or "body", item["msg"])
    return problems


def _summary(problems: dict[str, str]) -> str:
    return "; ".join(f"{field}: {message}" for field, message in problems.items())
