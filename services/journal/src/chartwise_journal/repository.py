"""The trade store port and its MongoDB adapter (collection `TradeJournal`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chartwise_contracts.journal import TradeFilter
from chartwise_journal.cursor import Position
from chartwise_journal.documents import from_document, to_document
from chartwise_journal.trade import Trade, normalise_tags, to_stored_time
from chartwise_runtime.mongo import Database, Document

COLLECTION = "TradeJournal"
DUPLICATE_KEY = 11000
NEWEST_FIRST = [("entered_at", DESCENDING), ("trade_id", DESCENDING)]


def _listing_index(*prefix: str) -> IndexModel:
    """An index serving one filter's listing in keyset order, so a page reads only the entries it returns."""
    return IndexModel([("user_id", ASCENDING), *((f, ASCENDING) for f in prefix), *NEWEST_FIRST])


INDEXES: dict[str, list[IndexModel]] = {
    COLLECTION: [
        IndexModel([("user_id", ASCENDING), ("client_key", ASCENDING)], unique=True),
        _listing_index(),
        _listing_index("symbol"),
        _listing_index("status"),
        _listing_index("strategy"),
        _listing_index("tags"),
    ]
}


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    inserted: list[Trade]
    duplicate_keys: set[str]


class TradeStore(Protocol):
    async def insert(self, trade: Trade) -> bool: ...

    async def insert_many(self, trades: Sequence[Trade]) -> InsertOutcome: ...

    async def by_key(self, user_id: str, client_key: str) -> Trade | None: ...

    async def existing_keys(self, user_id: str, client_keys: Sequence[str]) -> set[str]: ...

    async def get(self, user_id: str, trade_id: str) -> Trade | None: ...

    async def replace(self, trade: Trade, *, expected_version: int) -> bool: ...

    async def delete(self, user_id: str, trade_id: str) -> bool: ...

    async def page(
        self, user_id: str, filter: TradeFilter, *, after: Position | None, limit: int, skip: int = 0
    ) -> list[Trade]: ...

    def matching(self, user_id: str, filter: TradeFilter) -> AsyncIterator[Trade]: ...


def filter_query(user_id: str, filter: TradeFilter) -> Document:
    query: Document = {"user_id": user_id}
    if filter.symbol is not None:
        query["symbol"] = filter.symbol.strip().upper()
    if filter.side is not None:
        query["side"] = str(filter.side)
    if filter.tag is not None:
        tags = normalise_tags([filter.tag])
        query["tags"] = tags[0] if tags else filter.tag
    if filter.strategy is not None:
        query["strategy"] = filter.strategy.strip()
    if filter.status is not None:
        query["status"] = str(filter.status)
    window: dict[str, datetime] = {}
    if filter.entered_from is not None:
        window["$gte"] = to_stored_time(filter.entered_from)
    if filter.entered_to is not None:
        window["$lt"] = to_stored_time(filter.entered_to)
    if window:
        query["entered_at"] = window
    return query


def _after(position: Position) -> Document:
    """The keyset condition: strictly after `position` in (entered_at desc, trade_id desc) order."""
    at = to_stored_time(position.entered_at)
    return {"$or": [{"entered_at": {"$lt": at}}, {"entered_at": at, "trade_id": {"$lt": position.trade_id}}]}


class MongoTradeStore:
    def __init__(self, db: Database) -> None:
        self._trades = db[COLLECTION]

    async def insert(self, trade: Trade) -> bool:
        """Stores a new entry; False when the owner already has one with its client key."""
        try:
            await self._trades.insert_one(to_document(trade))
        except DuplicateKeyError:
            return False
        return True

    async def insert_many(self, trades: Sequence[Trade]) -> InsertOutcome:
        if not trades:
            return InsertOutcome([], set())
        try:
            await self._trades.insert_many([to_document(t) for t in trades], ordered=False)
        except BulkWriteError as error:
            failures: list[dict[str, Any]] = error.details.get("writeErrors", [])
            others = [f for f in failures if f.get("code") != DUPLICATE_KEY]
            if others:
                raise
            duplicates = {int(f["index"]) for f in failures}
            inserted = [t for i, t in enumerate(trades) if i not in duplicates]
            return InsertOutcome(inserted, {trades[i].client_key for i in duplicates})
        return InsertOutcome(list(trades), set())

    async def by_key(self, user_id: str, client_key: str) -> Trade | None:
        doc = await self._trades.find_one({"user_id": user_id, "client_key": client_key})
        return from_document(doc) if doc is not None else None

    async def existing_keys(self, user_id: str, client_keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(client_keys), 1000):
            chunk = list(client_keys[start : start + 1000])
            cursor = self._trades.find({"user_id": user_id, "client_key": {"$in": chunk}}, {"client_key": 1})
            found.update([doc["client_key"] async for doc in cursor])
        return found

    async def get(self, user_id: str, trade_id: str) -> Trade | None:
        doc = await self._trades.find_one({"_id": trade_id, "user_id": user_id})
        return from_document(doc) if doc is not None else None

    async def replace(self, trade: Trade, *, expected_version: int) -> bool:
        """Writes `trade` only if nobody changed it since `expected_version` was read."""
        result = await self._trades.replace_one(
            {"_id": trade.id, "user_id": trade.user_id, "version": expected_version}, to_document(trade)
        )
        return result.matched_count == 1

    async def delete(self, user_id: str, trade_id: str) -> bool:
        result = await self._trades.delete_one({"_id": trade_id, "user_id": user_id})
        return result.deleted_count == 1

    async def page(
        self, user_id: str, filter: TradeFilter, *, after: Position | None, limit: int, skip: int = 0
    ) -> list[Trade]:
        query = filter_query(user_id, filter)
        if after is not None:
            query.update(_after(after))
        cursor = self._trades.find(query).sort(NEWEST_FIRST).skip(skip).limit(limit)
        return [from_document(doc) async for doc in cursor]

    async def matching(self, user_id: str, filter: TradeFilter) -> AsyncIterator[Trade]:
        async for doc in self._trades.find(filter_query(user_id, filter)).sort(NEWEST_FIRST):
            yield from_document(doc)
