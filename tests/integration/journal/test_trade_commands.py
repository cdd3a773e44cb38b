"""Adding, changing, closing and deleting entries against a real MongoDB-compatible server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from chartwise_contracts.journal import ClearableField, TradePatch, TradeStatus
from chartwise_journal import service
from chartwise_journal.repository import COLLECTION, MongoTradeStore
from chartwise_runtime.errors import Conflict, InvalidInput, NotFound
from chartwise_runtime.mongo import Database
from tests.integration.journal.conftest import T0, trade_input


async def test_add_stores_the_entry_with_derived_figures_as_strings(store: MongoTradeStore, mongo_db: Database) -> None:
    data = trade_input(
        exit_price=Decimal("112.5"), exited_at=T0 + timedelta(hours=1), stop_loss=Decimal(95), fees=Decimal(2)
    )

    trade, created = await service.add_trade(store, user_id="u1", client_key="k1", data=data)

    stored = await mongo_db[COLLECTION].find_one({"_id": trade.id})
    assert created is True
    assert stored is not None
    assert (stored["user_id"], stored["status"], stored["entry_price"]) == ("u1", "closed", "100")
    assert (stored["gross_pnl"], stored["net_pnl"], stored["r_multiple"]) == ("125", "123", "2.46")
    assert stored["holding_seconds"] == 3600


async def test_add_with_the_same_client_key_answers_the_first_entry(store: MongoTradeStore, mongo_db: Database) -> None:
    first, created_first = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())
    second, created_second = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())

    assert (created_first, created_second) == (True, False)
    assert second.id == first.id
    assert await mongo_db[COLLECTION].count_documents({"user_id": "u1"}) == 1


async def test_same_client_key_for_a_different_trade_is_a_conflict(store: MongoTradeStore) -> None:
    await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())

    with pytest.raises(Conflict):
        await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input(quantity=Decimal(11)))


async def test_client_keys_belong_to_their_owner(store: MongoTradeStore) -> None:
    mine, _ = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())
    theirs, created = await service.add_trade(store, user_id="u2", client_key="k1", data=trade_input())

    assert created is True
    assert theirs.id != mine.id


async def test_invalid_entry_is_refused_and_nothing_is_stored(store: MongoTradeStore, mongo_db: Database) -> None:
    data = trade_input(stop_loss=Decimal(105), exit_price=Decimal(101), exited_at=T0 - timedelta(minutes=1))

    with pytest.raises(InvalidInput) as raised:
        await service.add_trade(store, user_id="u1", client_key="k1", data=data)

    assert set(raised.value.details["fields"]) == {"stop_loss", "exited_at"}
    assert await mongo_db[COLLECTION].count_documents({}) == 0


async def test_another_users_id_answers_not_found_for_every_operation(store: MongoTradeStore) -> None:
    trade, _ = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())

    with pytest.raises(NotFound):
        await service.get_trade(store, user_id="u2", trade_id=trade.id)
    with pytest.raises(NotFound):
        await service.update_trade(store, user_id="u2", trade_id=trade.id, patch=TradePatch(notes="x"), clear=[])
    with pytest.raises(NotFound):
        await service.close_trade(
            store, user_id="u2", trade_id=trade.id, exit_price=Decimal(1), exited_at=T0 + timedelta(1), fees=None
        )
    with pytest.raises(NotFound):
        await service.delete_trade(store, user_id="u2", trade_id=trade.id)
    unchanged = await service.get_trade(store, user_id="u1", trade_id=trade.id)
    assert unchanged == trade


async def test_partial_update_changes_only_given_fields_and_rederives(store: MongoTradeStore) -> None:
    trade, _ = await service.add_trade(
        store,
        user_id="u1",
        client_key="k1",
        data=trade_input(exit_price=Decimal(110), exited_at=T0 + timedelta(hours=1), strategy="Breakout", tags=["A"]),
    )

    updated = await service.update_trade(
        store,
        user_id="u1",
        trade_id=trade.id,
        patch=TradePatch(quantity=Decimal(20), notes="scaled in"),
        clear=[ClearableField.STRATEGY],
    )

    reread = await service.get_trade(store, user_id="u1", trade_id=trade.id)
    assert reread == updated
    assert reread.terms.quantity == 20
    assert reread.terms.notes == "scaled in"
    assert reread.terms.strategy is None
    assert reread.terms.tags == ("a",)
    assert reread.derived.gross_pnl == Decimal(200)
    assert reread.version == 2


async def test_update_that_breaks_a_rule_leaves_the_entry_unchanged(store: MongoTradeStore) -> None:
    trade, _ = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input(stop_loss=Decimal(95)))

    with pytest.raises(InvalidInput, match="stop_loss"):
        await service.update_trade(
            store, user_id="u1", trade_id=trade.id, patch=TradePatch(entry_price=Decimal(90)), clear=[]
        )

    assert await service.get_trade(store, user_id="u1", trade_id=trade.id) == trade


async def test_close_records_the_exit_and_repeating_it_changes_nothing(store: MongoTradeStore) -> None:
    trade, _ = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input(stop_loss=Decimal(98)))
    exit_at = T0 + timedelta(minutes=45)

    closed = await service.close_trade(
        store, user_id="u1", trade_id=trade.id, exit_price=Decimal(104), exited_at=exit_at, fees=Decimal(1)
    )
    again = await service.close_trade(
        store, user_id="u1", trade_id=trade.id, exit_price=Decimal(104), exited_at=exit_at, fees=None
    )

    assert closed.status is TradeStatus.CLOSED
    assert (closed.derived.net_pnl, closed.derived.r_multiple, closed.derived.holding_seconds) == (
        Decimal(39),
        Decimal("1.95"),
        2700,
    )
    assert again == closed
    with pytest.raises(Conflict):
        await service.close_trade(
            store, user_id="u1", trade_id=trade.id, exit_price=Decimal(99), exited_at=exit_at, fees=None
        )


async def test_close_before_the_entry_is_invalid(store: MongoTradeStore) -> None:
    trade, _ = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())

    with pytest.raises(InvalidInput, match="exited_at"):
        await service.close_trade(
            store, user_id="u1", trade_id=trade.id, exit_price=Decimal(1), exited_at=T0 - timedelta(1), fees=None
        )


async def test_clearing_the_exit_reopens_the_trade(store: MongoTradeStore) -> None:
    trade, _ = await service.add_trade(
        store, user_id="u1", client_key="k1", data=trade_input(exit_price=Decimal(101), exited_at=T0 + timedelta(1))
    )

    reopened = await service.update_trade(
        store, user_id="u1", trade_id=trade.id, patch=TradePatch(), clear=[ClearableField.EXIT]
    )

    assert reopened.status is TradeStatus.OPEN
    assert reopened.derived.net_pnl is None


async def test_delete_removes_the_entry(store: MongoTradeStore, mongo_db: Database) -> None:
    trade, _ = await service.add_trade(store, user_id="u1", client_key="k1", data=trade_input())

    await service.delete_trade(store, user_id="u1", trade_id=trade.id)

    assert await mongo_db[COLLECTION].count_documents({}) == 0
    with pytest.raises(NotFound):
        await service.delete_trade(store, user_id="u1", trade_id=trade.id)
