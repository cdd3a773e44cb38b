"""Journal entries and statistics as the contracts show them."""

from __future__ import annotations

from dataclasses import fields

from chartwise_contracts.journal import JournalStats, TradePublic
from chartwise_contracts.messages import Message
from chartwise_journal.stats import StatsFigures
from chartwise_journal.trade import Trade


def trade_public(trade: Trade) -> TradePublic:
    terms, derived = trade.terms, trade.derived
    return TradePublic(
        id=trade.id,
        user_id=trade.user_id,
        client_key=trade.client_key,
        symbol=terms.symbol,
        side=terms.side,
        status=terms.status,
        quantity=terms.quantity,
        entry_price=terms.entry_price,
        entered_at=terms.entered_at,
        exit_price=terms.exit_price,
        exited_at=terms.exited_at,
        stop_loss=terms.stop_loss,
        take_profit=terms.take_profit,
        fees=terms.fees,
        tags=list(terms.tags),
        strategy=terms.strategy,
        sentiment=terms.sentiment,
        notes=terms.notes,
        analysis_ids=list(terms.analysis_ids),
        gross_pnl=derived.gross_pnl,
        net_pnl=derived.net_pnl,
        initial_risk=derived.initial_risk,
        r_multiple=derived.r_multiple,
        holding_seconds=derived.holding_seconds,
        created_at=trade.created_at,
        updated_at=trade.updated_at,
    )


def stats_reply(request: Message, figures: StatsFigures) -> JournalStats:
    values = {field.name: getattr(figures, field.name) for field in fields(figures)}
    return request.cause(JournalStats, **values)
