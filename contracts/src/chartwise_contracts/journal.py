"""What the gateway and the journal service exchange about trade journal entries.

Every request names its owner in `user_id` (set by the gateway from the authenticated identity); the
service answers `not_found` for an entry of any other user. Money and quantities are `Decimal`, carried
as strings in JSON so no amount is rounded through a float. Served by request/reply on the subjects of
`JournalRpc`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chartwise_contracts.messages import Command, Query, Reply
from chartwise_contracts.streams import rpc_subject

MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
MAX_EXPORT_ROWS = 20_000

Price = Annotated[Decimal, Field(ge=0, max_digits=24, decimal_places=8, description="A price, at least 0.")]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=24, decimal_places=8, description="Greater than 0.")]
Fees = Annotated[Decimal, Field(ge=0, max_digits=24, decimal_places=8, description="Commissions and fees.")]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^\s*[A-Za-z0-9][A-Za-z0-9./:_\-]*\s*$")]
Tag = Annotated[str, Field(min_length=1, max_length=40)]
UserId = Annotated[str, Field(min_length=1, max_length=128)]
TradeId = Annotated[str, Field(min_length=1, max_length=64)]


class JournalRpc:
    """The request/reply subjects the journal service serves."""

    ADD_TRADE = rpc_subject("journal", "add-trade")
    UPDATE_TRADE = rpc_subject("journal", "update-trade")
    CLOSE_TRADE = rpc_subject("journal", "close-trade")
    DELETE_TRADE = rpc_subject("journal", "delete-trade")
    GET_TRADE = rpc_subject("journal", "get-trade")
    LIST_TRADES = rpc_subject("journal", "list-trades")
    GET_STATS = rpc_subject("journal", "get-stats")
    IMPORT_CSV = rpc_subject("journal", "import-csv")
    EXPORT_CSV = rpc_subject("journal", "export-csv")


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Sentiment(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class TradeStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ClearableField(StrEnum):
    """Optional fields an update may remove; clearing the exit reopens the trade."""

    EXIT = "exit"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    STRATEGY = "strategy"
    SENTIMENT = "sentiment"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TradeInput(_Model):
    """A new journal entry as the trader states it; derived figures are computed by the service."""

    symbol: Symbol
    side: TradeSide
    quantity: Quantity
    entry_price: Price
    entered_at: AwareDatetime
    exit_price: Price | None = None
    exited_at: AwareDatetime | None = None
    stop_loss: Price | None = None
    take_profit: Price | None = None
    fees: Fees = Decimal(0)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    strategy: str | None = Field(default=None, min_length=1, max_length=100)
    sentiment: Sentiment | None = None
    notes: str = Field(default="", max_length=10_000)
    analysis_ids: list[TradeId] = Field(default_factory=list, max_length=20, description="Linked chart analyses.")


class TradePatch(_Model):
    """Fields to change; a field left out (or null) keeps its value. Removing a value goes in `clear`."""

    symbol: Symbol | None = None
    side: TradeSide | None = None
    quantity: Quantity | None = None
    entry_price: Price | None = None
    entered_at: AwareDatetime | None = None
    exit_price: Price | None = None
    exited_at: AwareDatetime | None = None
    stop_loss: Price | None = None
    take_profit: Price | None = None
    fees: Fees | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    strategy: str | None = Field(default=None, min_length=1, max_length=100)
    sentiment: Sentiment | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    analysis_ids: list[TradeId] | None = Field(default=None, max_length=20)


class TradePublic(_Model):
    """A journal entry with the figures derived from it; P&L and R are null while the trade is open."""

    id: str
    user_id: str
    client_key: str
    symbol: str
    side: TradeSide
    status: TradeStatus
    quantity: Decimal
    entry_price: Decimal
    entered_at: AwareDatetime
    exit_price: Decimal | None
    exited_at: AwareDatetime | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    fees: Decimal
    tags: list[str]
    strategy: str | None
    sentiment: Sentiment | None
    notes: str
    analysis_ids: list[str]
    gross_pnl: Decimal | None = Field(description="(exit - entry) x quantity, sign-adjusted for side.")
    net_pnl: Decimal | None = Field(description="Gross P&L minus fees.")
    initial_risk: Decimal | None = Field(description="|entry - stop loss| x quantity, when a stop is set.")
    r_multiple: Decimal | None = Field(description="Net P&L divided by the initial risk.")
    holding_seconds: int | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class TradeFilter(_Model):
    """Which entries a listing, statistics or export covers; every given condition must hold."""

    symbol: Symbol | None = None
    side: TradeSide | None = None
    tag: Tag | None = None
    strategy: str | None = Field(default=None, min_length=1, max_length=100)
    status: TradeStatus | None = None
    entered_from: AwareDatetime | None = Field(default=None, description="Inclusive lower bound on entry time.")
    entered_to: AwareDatetime | None = Field(default=None, description="Exclusive upper bound on entry time.")


class AddTrade(Command):
    """Adds an entry; repeating it with the same `client_key` answers the entry already added."""

    user_id: UserId
    client_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Idempotency key chosen by the client; without one, the message id is used.",
    )
    trade: TradeInput


class UpdateTrade(Command):
    user_id: UserId
    trade_id: TradeId
    changes: TradePatch = Field(default_factory=TradePatch)
    clear: list[ClearableField] = Field(default_factory=list, max_length=5)


class CloseTrade(Command):
    """Records the exit of an open trade; repeating it with the same exit answers the closed trade."""

    user_id: UserId
    trade_id: TradeId
    exit_price: Price
    exited_at: AwareDatetime
    fees: Fees | None = Field(default=None, description="Total fees of the trade, if they changed on exit.")


class DeleteTrade(Command):
    user_id: UserId
    trade_id: TradeId


class GetTrade(Query):
    user_id: UserId
    trade_id: TradeId


class ListTrades(Query):
    """Newest first by entry time. Either follow `cursor` (preferred) or ask for `page` / `per_page`."""

    user_id: UserId
    filter: TradeFilter = Field(default_factory=TradeFilter)
    cursor: str | None = Field(default=None, max_length=512, description="`next_cursor` of the previous page.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    page: int | None = Field(default=None, ge=1, le=MAX_PAGE_NUMBER)
    per_page: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)


class GetJournalStats(Query):
    user_id: UserId
    filter: TradeFilter = Field(default_factory=TradeFilter)


class ImportTradesCsv(Command):
    """Imports one trade per row; rows already imported are skipped, so a re-import changes nothing."""

    user_id: UserId
    csv_text: str = Field(max_length=MAX_IMPORT_BYTES)
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA zone of dates and times.")


class ExportTradesCsv(Query):
    """Entries as CSV, newest first, in chunks of at most `limit` rows; follow `cursor` for the next."""

    user_id: UserId
    filter: TradeFilter = Field(default_factory=TradeFilter)
    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=MAX_EXPORT_ROWS, ge=1, le=MAX_EXPORT_ROWS)


class TradeReply(Reply):
    trade: TradePublic
    created: bool = Field(default=False, description="True only when this request added the entry.")


class TradeDeleted(Reply):
    trade_id: str


class TradePage(Reply):
    items: list[TradePublic]
    next_cursor: str | None = Field(description="Null on the last page.")
    page: int | None = None
    per_page: int | None = None


class BreakdownRow(_Model):
    """Figures of the closed trades sharing one symbol or one strategy (null: no strategy)."""

    key: str | None
    trades: int
    wins: int
    losses: int
    win_rate: Decimal | None
    net_pnl: Decimal


class TradeOutcome(_Model):
    trade_id: str
    symbol: str
    net_pnl: Decimal


class JournalStats(Reply):
    """Statistics of the entries matching a filter; docs/journal.md defines each figure."""

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


class RowError(_Model):
    row: int = Field(description="Line of the CSV file, the header being line 1.")
    column: str | None
    message: str


class ImportReport(Reply):
    imported: int
    skipped_duplicates: int
    row_errors: list[RowError]
    trade_ids: list[str] = Field(default_factory=list, description="Ids of the entries this import added.")


class TradesCsv(Reply):
    csv_text: str
    rows: int
    next_cursor: str | None
