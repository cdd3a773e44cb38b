"""A journal entry: the terms the trader states and the figures derived from them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from chartwise_contracts.journal import ClearableField, Sentiment, TradeInput, TradePatch, TradeSide, TradeStatus
from chartwise_journal.money import canonical, money, ratio


@dataclass(frozen=True, slots=True)
class TradeTerms:
    symbol: str
    side: TradeSide
    quantity: Decimal
    entry_price: Decimal
    entered_at: datetime
    exit_price: Decimal | None = None
    exited_at: datetime | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    fees: Decimal = Decimal(0)
    tags: tuple[str, ...] = ()
    strategy: str | None = None
    sentiment: Sentiment | None = None
    notes: str = ""
    analysis_ids: tuple[str, ...] = ()

    @property
    def status(self) -> TradeStatus:
        return TradeStatus.CLOSED if self.exit_price is not None else TradeStatus.OPEN


@dataclass(frozen=True, slots=True)
class Derived:
    gross_pnl: Decimal | None
    net_pnl: Decimal | None
    initial_risk: Decimal | None
    r_multiple: Decimal | None
    holding_seconds: int | None


@dataclass(frozen=True, slots=True)
class Trade:
    id: str
    user_id: str
    client_key: str
    terms: TradeTerms
    derived: Derived
    request_hash: str
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def status(self) -> TradeStatus:
        return self.terms.status


def to_stored_time(value: datetime) -> datetime:
    """UTC at millisecond precision, the precision MongoDB keeps, so cursors compare with stored values."""
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def normalise_tags(tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Trimmed, lower-case, first occurrence kept: tags filter case-insensitively."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = tag.strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def _text(value: str | None) -> str | None:
    cleaned = value.strip() if value is not None else None
    return cleaned or None


def terms_from_input(data: TradeInput) -> TradeTerms:
    return TradeTerms(
        symbol=data.symbol.strip().upper(),
        side=data.side,
        quantity=data.quantity,
        entry_price=data.entry_price,
        entered_at=to_stored_time(data.entered_at),
        exit_price=data.exit_price,
        exited_at=to_stored_time(data.exited_at) if data.exited_at is not None else None,
        stop_loss=data.stop_loss,
        take_profit=data.take_profit,
        fees=data.fees,
        tags=normalise_tags(data.tags),
        strategy=_text(data.strategy),
        sentiment=data.sentiment,
        notes=data.notes,
        analysis_ids=tuple(dict.fromkeys(data.analysis_ids)),
    )


_CLEARED: dict[ClearableField, dict[str, None]] = {
    ClearableField.EXIT: {"exit_price": None, "exited_at": None},
    ClearableField.STOP_LOSS: {"stop_loss": None},
    ClearableField.TAKE_PROFIT: {"take_profit": None},
    ClearableField.STRATEGY: {"strategy": None},
    ClearableField.SENTIMENT: {"sentiment": None},
}


def apply_patch(terms: TradeTerms, patch: TradePatch, clear: list[ClearableField]) -> TradeTerms:
    """The terms after an update: given fields replace, cleared fields are removed, the rest is kept."""
    changes: dict[str, object] = {}
    for field in clear:
        changes.update(_CLEARED[field])
    given = {name: value for name, value in patch if value is not None}
    if "symbol" in given:
        given["symbol"] = str(given["symbol"]).strip().upper()
    for name in ("entered_at", "exited_at"):
        if name in given:
            given[name] = to_stored_time(given[name])
    if "tags" in given:
        given["tags"] = normalise_tags(given["tags"])
    if "analysis_ids" in given:
        given["analysis_ids"] = tuple(dict.fromkeys(given["analysis_ids"]))
    if "strategy" in given:
        given["strategy"] = _text(given["strategy"])
    changes.update(given)
    return replace(terms, **changes)  # type: ignore[arg-type]


def derive(terms: TradeTerms) -> Derived:
    """P&L (gross, net of fees), initial risk from the stop, R-multiple and holding time."""
    direction = 1 if terms.side is TradeSide.BUY else -1
    initial_risk = (
        money(abs(terms.entry_price - terms.stop_loss) * terms.quantity) if terms.stop_loss is not None else None
    )
    if terms.exit_price is None or terms.exited_at is None:
        return Derived(None, None, initial_risk, None, None)
    gross = money((terms.exit_price - terms.entry_price) * terms.quantity * direction)
    net = money(gross - terms.fees)
    r_multiple = ratio(net / initial_risk) if initial_risk else None
    holding = int((terms.exited_at - terms.entered_at).total_seconds())
    return Derived(gross, net, initial_risk, r_multiple, holding)


def fingerprint(terms: TradeTerms) -> str:
    """A digest of everything the trader stated, equal for equal terms however they were written."""
    parts = [
        terms.symbol,
        str(terms.side),
        canonical(terms.quantity),
        canonical(terms.entry_price),
        terms.entered_at.isoformat(),
        _optional(terms.exit_price),
        terms.exited_at.isoformat() if terms.exited_at is not None else "",
        _optional(terms.stop_loss),
        _optional(terms.take_profit),
        canonical(terms.fees),
        ",".join(terms.tags),
        terms.strategy or "",
        str(terms.sentiment or ""),
        terms.notes,
        ",".join(terms.analysis_ids),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _optional(value: Decimal | None) -> str:
    return canonical(value) if value is not None else ""
