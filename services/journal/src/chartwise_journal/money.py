"""Decimal amounts: stored as canonical strings, computed exactly, rounded once at a fixed scale."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MONEY_QUANTUM = Decimal("0.00000001")
RATIO_QUANTUM = Decimal("0.0001")


def canonical(value: Decimal) -> str:
    """The shortest plain string of a value ("1.50" -> "1.5", "1E+2" -> "100"), so equal values store equal."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def parse(text: str) -> Decimal:
    return Decimal(text)


def parse_optional(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def money(value: Decimal) -> Decimal:
    """An amount rounded to the stored money scale (8 places), without trailing zeros."""
    return Decimal(canonical(value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)))


def ratio(value: Decimal) -> Decimal:
    """A ratio (win rate, profit factor, R) rounded to 4 places, without trailing zeros."""
    return Decimal(canonical(value.quantize(RATIO_QUANTUM, rounding=ROUND_HALF_EVEN)))
