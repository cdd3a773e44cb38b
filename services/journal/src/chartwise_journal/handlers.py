"""Request/reply handlers of the journal: each turns a contract message into one use case and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.redis import RedisRouter

from chartwise_contracts.journal import (
    AddTrade,
    CloseTrade,
    DeleteTrade,
    ExportTradesCsv,
    GetJournalStats,
    GetTrade,
    ImportReport,
    ImportTradesCsv,
    JournalRpc,
    JournalStats,
    ListTrades,
    TradeDeleted,
    TradePage,
    TradeReply,
    TradesCsv,
    UpdateTrade,
)
from chartwise_journal import service
from chartwise_journal.public import stats_reply, trade_public
from chartwise_journal.repository import TradeStore
from chartwise_runtime.errors import InvalidInput
from chartwise_runtime.rpc import replies_with_errors, serves_requests

GROUP = "journal"

Handler = Callable[..., Awaitable[Any]]


def build_router(store: TradeStore, *, consumer: str) -> RedisRouter:
    """Every journal subscriber, sharing one consumer group per subject so replicas split the requests."""
    router = RedisRouter()

    def serves(subject: str) -> Callable[[Handler], Any]:
        return serves_requests(router, subject, group=GROUP, consumer=consumer)

    @serves(JournalRpc.ADD_TRADE)
    @replies_with_errors
    async def add_trade(msg: AddTrade) -> TradeReply:
        # Without a client key the message id stands in, so a redelivered request adds nothing twice.
        key = msg.client_key or f"msg:{msg.message_id}"
        trade, created = await service.add_trade(store, user_id=msg.user_id, client_key=key, data=msg.trade)
        return msg.cause(TradeReply, trade=trade_public(trade), created=created)

    @serves(JournalRpc.UPDATE_TRADE)
    @replies_with_errors
    async def update_trade(msg: UpdateTrade) -> TradeReply:
        trade = await service.update_trade(
            store, user_id=msg.user_id, trade_id=msg.trade_id, patch=msg.changes, clear=msg.clear
        )
        return msg.cause(TradeReply, trade=trade_public(trade))

    @serves(JournalRpc.CLOSE_TRADE)
    @replies_with_errors
    async def close_trade(msg: CloseTrade) -> TradeReply:
        trade = await service.close_trade(
            store,
            user_id=msg.user_id,
            trade_id=msg.trade_id,
            exit_price=msg.exit_price,
            exited_at=msg.exited_at,
            fees=msg.fees,
        )
        return msg.cause(TradeReply, trade=trade_public(trade))

    @serves(JournalRpc.DELETE_TRADE)
    @replies_with_errors
    async def delete_trade(msg: DeleteTrade) -> TradeDeleted:
        await service.delete_trade(store, user_id=msg.user_id, trade_id=msg.trade_id)
        return msg.cause(TradeDeleted, trade_id=msg.trade_id)

    @serves(JournalRpc.GET_TRADE)
    @replies_with_errors
    async def get_trade(msg: GetTrade) -> TradeReply:
        trade = await service.get_trade(store, user_id=msg.user_id, trade_id=msg.trade_id)
        return msg.cause(TradeReply, trade=trade_public(trade))

    @serves(JournalRpc.LIST_TRADES)
    @replies_with_errors
    async def list_trades(msg: ListTrades) -> TradePage:
        if msg.page is None and msg.per_page is None:
            items, cursor = await service.list_trades(
                store, user_id=msg.user_id, filter=msg.filter, cursor=msg.cursor, limit=msg.limit
            )
            return msg.cause(TradePage, items=[trade_public(t) for t in items], next_cursor=cursor)
        if msg.cursor is not None:
            raise InvalidInput(
                "give either a cursor or page / per_page, not both", details={"fields": {"cursor": "with page"}}
            )
        page, per_page = msg.page or 1, msg.per_page or msg.limit
        items, cursor = await service.list_trades_by_page(
            store, user_id=msg.user_id, filter=msg.filter, page=page, per_page=per_page
        )
        return msg.cause(
            TradePage, items=[trade_public(t) for t in items], next_cursor=cursor, page=page, per_page=per_page
        )

    @serves(JournalRpc.GET_STATS)
    @replies_with_errors
    async def get_stats(msg: GetJournalStats) -> JournalStats:
        figures = await service.journal_stats(store, user_id=msg.user_id, filter=msg.filter)
        return stats_reply(msg, figures)

    @serves(JournalRpc.IMPORT_CSV)
    @replies_with_errors
    async def import_csv(msg: ImportTradesCsv) -> ImportReport:
        outcome = await service.import_csv(store, user_id=msg.user_id, csv_text=msg.csv_text, timezone=msg.timezone)
        return msg.cause(
            ImportReport,
            imported=len(outcome.imported),
            skipped_duplicates=outcome.skipped_duplicates,
            row_errors=outcome.row_errors,
            trade_ids=[t.id for t in outcome.imported],
        )

    @serves(JournalRpc.EXPORT_CSV)
    @replies_with_errors
    async def export_csv(msg: ExportTradesCsv) -> TradesCsv:
        text, rows, cursor = await service.export_csv(
            store, user_id=msg.user_id, filter=msg.filter, cursor=msg.cursor, limit=msg.limit
        )
        return msg.cause(TradesCsv, csv_text=text, rows=rows, next_cursor=cursor)

    return router
