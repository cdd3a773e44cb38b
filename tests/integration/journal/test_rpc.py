"""The running journal service answers request/reply over real Redis, with its data in real MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts.journal import (
    AddTrade,
    GetTrade,
    ImportReport,
    ImportTradesCsv,
    JournalRpc,
    ListTrades,
    TradePage,
    TradeReply,
)
from chartwise_devtools.asgi import running
from chartwise_journal.app import build_app
from chartwise_journal.repository import COLLECTION
from chartwise_journal.settings import Settings
from chartwise_runtime.errors import InvalidInput, NotFound
from chartwise_runtime.mongo import Database
from chartwise_runtime.rpc import request
from tests.integration.journal.conftest import trade_input


@pytest.fixture
def settings(redis_url: str, mongo_url: str, mongo_database_name: str) -> Settings:
    return Settings(redis_url=redis_url, mongo_url=mongo_url, mongo_database=mongo_database_name, environment="test")


@asynccontextmanager
async def serving(settings: Settings, redis: Redis) -> AsyncIterator[RedisBroker]:
    """Runs the journal service app and yields a broker to call it with.

    A context manager inside each test, not a fixture: the app's task group must be entered and left
    in the same task.
    """
    async with running(build_app(settings)):
        caller = RedisBroker(settings.redis_url)
        await caller.connect()
        try:
            yield caller
        finally:
            await caller.stop()


async def test_add_then_get_and_list_through_the_service(settings: Settings, redis: Redis, mongo_db: Database) -> None:
    async with serving(settings, redis) as client:
        add = AddTrade.new(actor="u1", user_id="u1", client_key="k1", trade=trade_input(stop_loss=Decimal(95)))

        added = await request(client, add, subject=JournalRpc.ADD_TRADE, reply_type=TradeReply, timeout=5)
        repeated = await request(client, add, subject=JournalRpc.ADD_TRADE, reply_type=TradeReply, timeout=5)
        got = await request(
            client,
            GetTrade.new(user_id="u1", trade_id=added.trade.id),
            subject=JournalRpc.GET_TRADE,
            reply_type=TradeReply,
            timeout=5,
        )
        page = await request(
            client, ListTrades.new(user_id="u1"), subject=JournalRpc.LIST_TRADES, reply_type=TradePage, timeout=5
        )

        assert (added.created, repeated.created) == (True, False)
        assert added.meta.correlation_id == add.meta.correlation_id
        assert got.trade == added.trade == repeated.trade
        assert got.trade.initial_risk == Decimal(50)
        assert [t.id for t in page.items] == [added.trade.id]
        assert await mongo_db[COLLECTION].count_documents({"user_id": "u1"}) == 1


async def test_another_users_trade_answers_not_found(settings: Settings, redis: Redis) -> None:
    async with serving(settings, redis) as client:
        add = AddTrade.new(user_id="u1", trade=trade_input())
        added = await request(client, add, subject=JournalRpc.ADD_TRADE, reply_type=TradeReply, timeout=5)

        with pytest.raises(NotFound):
            await request(
                client,
                GetTrade.new(user_id="u2", trade_id=added.trade.id),
                subject=JournalRpc.GET_TRADE,
                reply_type=TradeReply,
                timeout=5,
            )


async def test_request_breaking_the_contract_answers_invalid_input_naming_the_field(
    settings: Settings, redis: Redis
) -> None:
    async with serving(settings, redis) as client:
        bad = ListTrades.new(user_id="u1").model_copy(update={"page": 0})

        with pytest.raises(InvalidInput) as raised:
            await request(client, bad, subject=JournalRpc.LIST_TRADES, reply_type=TradePage, timeout=5)

        assert "page" in raised.value.details["fields"]


async def test_stop_on_the_wrong_side_answers_invalid_input(
    settings: Settings, redis: Redis, mongo_db: Database
) -> None:
    async with serving(settings, redis) as client:
        add = AddTrade.new(user_id="u1", trade=trade_input(side="sell", stop_loss=Decimal(90)))

        with pytest.raises(InvalidInput, match="above the entry price"):
            await request(client, add, subject=JournalRpc.ADD_TRADE, reply_type=TradeReply, timeout=5)

        assert await mongo_db[COLLECTION].count_documents({}) == 0


async def test_csv_import_through_the_service_reports_rows(settings: Settings, redis: Redis) -> None:
    async with serving(settings, redis) as client:
        text = "date,symbol,quantity,price,side\n2026-01-02,AAPL,1,10,buy\n2026-01-02,AAPL,1,x,buy\n"
        message = ImportTradesCsv.new(user_id="u1", csv_text=text)

        report = await request(client, message, subject=JournalRpc.IMPORT_CSV, reply_type=ImportReport, timeout=5)

        assert (report.imported, [(e.row, e.column) for e in report.row_errors]) == (1, [(3, "price")])
