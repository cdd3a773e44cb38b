"""Journal statistics, computed exactly with Decimal from the closed trades of a filter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from chartwise_contracts.journal import BreakdownRow, TradeOutcome
from chartwise_journal.money import money, ratio
from chartwise_journal.trade import Trade


@dataclass(frozen=True, slots=True)
class StatsFigures:
    trades: int
    open_trades: int
    closed_trades: int
    wins: int
    losses: int
    breakeven: int
    win_rate: Decimal | None
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    average_win: Decimal | None
    average_loss: Decimal | None
    profit_factor: Decimal | None
    expectancy: Decimal | None
    average_r: Decimal | None
    best_trade: TradeOutcome | None
    worst_trade: TradeOutcome | None
    max_drawdown: Decimal
    by_symbol: list[BreakdownRow]
    by_strategy: list[BreakdownRow]


@dataclass(slots=True)
class _Group:
    trades: int = 0
    wins: int = 0
    losses: int = 0
    net_pnl: Decimal = field(default_factory=Decimal)

    def add(self, pnl: Decimal) -> None:
        self.trades += 1
        self.wins += pnl > 0
        self.losses += pnl < 0
        self.net_pnl += pnl

    def row(self, key: str | None) -> BreakdownRow:
        return BreakdownRow(
            key=key,
            trades=self.trades,
            wins=self.wins,
            losses=self.losses,
            win_rate=ratio(Decimal(self.wins) / self.trades) if self.trades else None,
            net_pnl=money(self.net_pnl),
        )


def _mean(values: list[Decimal]) -> Decimal | None:
    return money(sum(values, Decimal(0)) / len(values)) if values else None


def _outcome(trade: Trade, pnl: Decimal) -> TradeOutcome:
    return TradeOutcome(trade_id=trade.id, symbol=trade.terms.symbol, net_pnl=pnl)


def max_drawdown(pnls_in_exit_order: Iterable[Decimal]) -> Decimal:
    """The largest fall of cumulative net P&L from a previous peak (the curve starts at 0)."""
    equity = peak = worst = Decimal(0)
    for pnl in pnls_in_exit_order:
        equity += pnl
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return money(worst)


def _rows(groups: dict[str | None, _Group]) -> list[BreakdownRow]:
    ordered = sorted(groups.items(), key=lambda item: (-item[1].trades, item[0] or ""))
    return [group.row(key) for key, group in ordered]


def compute_stats(trades: Iterable[Trade]) -> StatsFigures:
    all_trades = list(trades)
    closed = [t for t in all_trades if t.derived.net_pnl is not None]
    closed.sort(key=lambda t: (t.terms.exited_at or t.terms.entered_at, t.terms.entered_at, t.id))
    pnls = [(t, t.derived.net_pnl or Decimal(0)) for t in closed]
    wins = [p for _, p in pnls if p > 0]
    losses = [p for _, p in pnls if p < 0]
    gross_profit, gross_loss = sum(wins, Decimal(0)), sum(losses, Decimal(0))
    net = sum((p for _, p in pnls), Decimal(0))
    r_values = [t.derived.r_multiple for t in closed if t.derived.r_multiple is not None]
    by_symbol: dict[str | None, _Group] = {}
    by_strategy: dict[str | None, _Group] = {}
    for trade, pnl in pnls:
        by_symbol.setdefault(trade.terms.symbol, _Group()).add(pnl)
        by_strategy.setdefault(trade.terms.strategy, _Group()).add(pnl)
    best = max(pnls, key=lambda item: item[1], default=None)
    worst = min(pnls, key=lambda item: item[1], default=None)
    return StatsFigures(
        trades=len(all_trades),
        open_trades=len(all_trades) - len(closed),
        closed_trades=len(closed),
        wins=len(wins),
        losses=len(losses),
        breakeven=len(closed) - len(wins) - len(losses),
        win_rate=ratio(Decimal(len(wins)) / len(closed)) if closed else None,
        gross_pnl=money(sum((t.derived.gross_pnl or Decimal(0) for t in closed), Decimal(0))),
        fees=money(sum((t.terms.fees for t in closed), Decimal(0))),
        net_pnl=money(net),
        average_win=_mean(wins),
        average_loss=_mean(losses),
        profit_factor=ratio(gross_profit / -gross_loss) if gross_loss else None,
        expectancy=money(net / len(closed)) if closed else None,
        average_r=ratio(sum(r_values, Decimal(0)) / len(r_values)) if r_values else None,
        best_trade=_outcome(*best) if best is not None else None,
        worst_trade=_outcome(*worst) if worst is not None else None,
        max_drawdown=max_drawdown(p for _, p in pnls),
        by_symbol=_rows(by_symbol),
        by_strategy=_rows(by_strategy),
    )
