"""The test harness gives real servers that behave like Redis and MongoDB where this project relies on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from chartwise_runtime.mongo import Database


async def test_datetime_and_boolean_survive_insert_and_set(mongo_db: Database) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await mongo_db.items.insert_one({"_id": "a", "created_at": at, "active": True})
    await mongo_db.items.update_one({"_id": "a"}, {"$set": {"updated_at": at + timedelta(hours=1), "archived": False}})

    stored = await mongo_db.items.find_one({"_id": "a"})

    assert stored is not None
    assert stored["created_at"] == at
    assert stored["updated_at"] == at + timedelta(hours=1)
    assert stored["active"] is True
    assert stored["archived"] is False


async def test_date_range_match_in_find_and_aggregate(mongo_db: Database) -> None:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    await mongo_db.items.insert_many([{"_id": i, "at": base + timedelta(days=i)} for i in range(5)])
    window = {"at": {"$gte": base + timedelta(days=1), "$lt": base + timedelta(days=3)}}

    found = await mongo_db.items.find(window).sort("at", ASCENDING).to_list()
    aggregated = await (await mongo_db.items.aggregate([{"$match": window}, {"$sort": {"at": 1}}])).to_list()

    assert [d["_id"] for d in found] == [1, 2]
    assert [d["_id"] for d in aggregated] == [1, 2]


async def test_unique_index_refuses_a_duplicate(mongo_db: Database) -> None:
    await mongo_db.keys.create_indexes([IndexModel([("owner", ASCENDING), ("name", ASCENDING)], unique=True)])
    await mongo_db.keys.insert_one({"owner": "u1", "name": "k"})
    await mongo_db.keys.insert_one({"owner": "u2", "name": "k"})

    with pytest.raises(DuplicateKeyError):
        await mongo_db.keys.insert_one({"owner": "u1", "name": "k"})
    assert await mongo_db.keys.count_documents({}) == 2


async def test_inc_upsert_creates_then_increments(mongo_db: Database) -> None:
    for _ in range(3):
        await mongo_db.counters.update_one({"_id": "u1:2026-01"}, {"$inc": {"used": 1}}, upsert=True)

    stored = await mongo_db.counters.find_one({"_id": "u1:2026-01"})

    assert stored == {"_id": "u1:2026-01", "used": 3}


async def test_stream_round_trip_through_a_consumer_group(redis: Redis) -> None:
    await redis.xgroup_create("jobs", "workers", id="0", mkstream=True)
    sent = [await redis.xadd("jobs", {"n": str(i)}) for i in range(3)]

    read = await redis.xreadgroup("workers", "w1", {"jobs": ">"}, count=10)
    entries = read[0][1]
    assert [e[0] for e in entries] == sent
    assert [e[1][b"n"] for e in entries] == [b"0", b"1", b"2"]
    assert (await redis.xpending("jobs", "workers"))["pending"] == 3

    assert await redis.xack("jobs", "workers", *sent) == 3
    assert (await redis.xpending("jobs", "workers"))["pending"] == 0


async def test_each_test_starts_with_an_empty_redis(redis: Redis) -> None:
    assert await redis.dbsize() == 0
    await redis.set("left-behind", "1")
