"""How a journal entry is stored: decimals as canonical strings (the local Mongo-wire server has no Decimal128)."""

from __future__ import annotations

from typing import Any

from chartwise_contracts.journal import Sentiment, TradeSide
from chartwise_journal.money import canonical, parse, parse_optional
from chartwise_journal.trade import Derived, Trade, TradeTerms
from chartwise_runtime.mongo import Document


def _text(value: Any) -> str | None:
    return None if value is None else canonical(value)


def to_document(trade: Trade) -> Document:
    terms, derived = trade.terms, trade.derived
    return {
        "_id": trade.id,
        # A copy of _id as the sort tie-breaker: the local server cannot index `_id` inside a compound index.
        "trade_id": trade.id,
        "user_id": trade.user_id,
        "client_key": trade.client_key,
        "request_hash": trade.request_hash,
        "status": str(terms.status),
        "symbol": terms.symbol,
        "side": str(terms.side),
        "quantity": canonical(terms.quantity),
        "entry_price": canonical(terms.entry_price),
        "entered_at": terms.entered_at,
        "exit_price": _text(terms.exit_price),
        "exited_at": terms.exited_at,
        "stop_loss": _text(terms.stop_loss),
        "take_profit": _text(terms.take_profit),
        "fees": canonical(terms.fees),
        "tags": list(terms.tags),
        "strategy": terms.strategy,
        "sentiment": str(terms.sentiment) if terms.sentiment is not None else None,
        "notes": terms.notes,
        "analysis_ids": list(terms.analysis_ids),
        "gross_pnl": _text(derived.gross_pnl),
        "net_pnl": _text(derived.net_pnl),
        "initial_risk": _text(derived.initial_risk),
        "r_multiple": _text(derived.r_multiple),
        "holding_seconds": derived.holding_seconds,
        "created_at": trade.created_at,
        "updated_at": trade.updated_at,
        "version": trade.version,
    }


def from_document(doc: Document) -> Trade:
    terms = TradeTerms(
        symbol=doc["symbol"],
        side=TradeSide(doc["side"]),
        quantity=parse(doc["quantity"]),
        entry_price=parse(doc["entry_price"]),
        entered_at=doc["entered_at"],
        exit_price=parse_optional(doc.get("exit_price")),
        exited_at=doc.get("exited_at"),
        stop_loss=parse_optional(doc.get("stop_loss")),
        take_profit=parse_optional(doc.get("take_profit")),
        fees=parse(doc["fees"]),
        tags=tuple(doc.get("tags") or ()),
        strategy=doc.get("strategy"),
        sentiment=Sentiment(doc["sentiment"]) if doc.get("sentiment") else None,
        notes=doc.get("notes") or "",
        analysis_ids=tuple(doc.get("analysis_ids") or ()),
    )
    derived = Derived(
        gross_pnl=parse_optional(doc.get("gross_pnl")),
        net_pnl=parse_optional(doc.get("net_pnl")),
        initial_risk=parse_optional(doc.get("initial_risk")),
        r_multiple=parse_optional(doc.get("r_multiple")),
        holding_seconds=doc.get("holding_seconds"),
    )
    return Trade(
        id=doc["_id"],
        user_id=doc["user_id"],
        client_key=doc["client_key"],
        terms=terms,
        derived=derived,
        request_hash=doc.get("request_hash", ""),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=doc.get("version", 1),
    )
