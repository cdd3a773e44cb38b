"""The usage service's MongoDB collections: accounts, Stripe subscriptions, webhook receipts, committed usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from chartwise_runtime.mongo import Database, Document
from chartwise_usage.plans import SubscriptionState

ACCOUNTS = "accounts"
SUBSCRIPTIONS = "subscriptions"
STRIPE_EVENTS = "stripe_events"
USAGE = "usage"

INDEXES: dict[str, list[IndexModel]] = {
    ACCOUNTS: [IndexModel([("customer_id", ASCENDING)]), IndexModel([("has_customer", ASCENDING)])],
    SUBSCRIPTIONS: [IndexModel([("customer_id", ASCENDING)])],
    USAGE: [IndexModel([("user_id", ASCENDING), ("month_key", ASCENDING)])],
}


@dataclass(frozen=True, slots=True)
class Account:
    user_id: str
    time_zone: str
    manual_plan: str | None
    customer_id: str | None
    email: str | None


def _account(doc: Document) -> Account:
    return Account(
        user_id=doc["_id"],
        time_zone=doc.get("time_zone") or "UTC",
        manual_plan=doc.get("manual_plan") or None,
        customer_id=doc.get("customer_id") or None,
        email=doc.get("email") or None,
    )


class Accounts:
    def __init__(self, db: Database) -> None:
        self._collection = db[ACCOUNTS]

    async def ensure(self, user_id: str, *, now: datetime) -> Account:
        """Creates the billing account once (free, UTC); later calls leave what exists untouched."""
        await self._collection.update_one(
            {"_id": user_id}, {"$setOnInsert": {"has_customer": False, "created_at": now}}, upsert=True
        )
        account = await self.get(user_id)
        assert account is not None
        return account

    async def register(self, user_id: str, *, email: str | None, time_zone: str | None, now: datetime) -> Account:
        """Records what registration tells; a zone the user chose since is kept over the registration's."""
        await self.ensure(user_id, now=now)
        fields: dict[str, Any] = {"email": email, "registered_at": now}
        doc = await self._collection.find_one({"_id": user_id})
        if time_zone and not (doc or {}).get("time_zone_chosen"):
            fields["time_zone"] = time_zone
        await self._collection.update_one({"_id": user_id}, {"$set": fields})
        account = await self.get(user_id)
        assert account is not None
        return account

    async def get(self, user_id: str) -> Account | None:
        doc = await self._collection.find_one({"_id": user_id})
        return _account(doc) if doc else None

    async def set_fields(self, user_id: str, fields: dict[str, Any], *, now: datetime) -> None:
        await self._collection.update_one(
            {"_id": user_id},
            {"$set": {**fields, "updated_at": now}, "$setOnInsert": {"created_at": now}},
            upsert=True,
        )

    async def link_customer(self, user_id: str, customer_id: str, *, now: datetime) -> None:
        await self.set_fields(user_id, {"customer_id": customer_id, "has_customer": True}, now=now)

    async def by_customer(self, customer_id: str) -> list[Account]:
        return [_account(doc) async for doc in self._collection.find({"customer_id": customer_id})]

    async def with_customer(self) -> list[Account]:
        return [_account(doc) async for doc in self._collection.find({"has_customer": True}).sort("_id", ASCENDING)]

    async def without_customer(self, *, limit: int) -> list[Account]:
        cursor = self._collection.find({"has_customer": False}).sort("_id", ASCENDING).limit(limit)
        return [_account(doc) async for doc in cursor]

    async def page(self, *, after: str | None, limit: int) -> list[Account]:
        query: Document = {"_id": {"$gt": after}} if after else {}
        cursor = self._collection.find(query).sort("_id", ASCENDING).limit(limit)
        return [_account(doc) async for doc in cursor]


def _subscription(doc: Document) -> SubscriptionState:
    return SubscriptionState(
        subscription_id=doc["_id"],
        customer_id=doc["customer_id"],
        status=doc["status"],
        price_id=doc.get("price_id"),
        price_amount=doc.get("price_amount"),
        period_start=doc.get("period_start"),
        period_end=doc.get("period_end"),
        version=float(doc["version"]),
    )


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self._collection = db[SUBSCRIPTIONS]

    async def apply(self, state: SubscriptionState) -> bool:
        """Stores a subscription state unless a newer (or equal) version is already stored; True when stored."""
        fields = {
            "customer_id": state.customer_id,
            "status": state.status,
            "price_id": state.price_id,
            "price_amount": state.price_amount,
            "period_start": state.period_start,
            "period_end": state.period_end,
            "version": state.version,
        }
        try:
            # The filter matches only an older version; when a newer one exists the upsert collides on _id.
            await self._collection.update_one(
                {"_id": state.subscription_id, "version": {"$lt": state.version}}, {"$set": fields}, upsert=True
            )
        except DuplicateKeyError:
            return False
        return True

    async def get(self, subscription_id: str) -> SubscriptionState | None:
        doc = await self._collection.find_one({"_id": subscription_id})
        return _subscription(doc) if doc else None

    async def for_customer(self, customer_id: str) -> list[SubscriptionState]:
        return [_subscription(doc) async for doc in self._collection.find({"customer_id": customer_id})]


class StripeEvents:
    """Receipts of applied webhook events, so a redelivered event is recognised by its id."""

    def __init__(self, db: Database) -> None:
        self._collection = db[STRIPE_EVENTS]

    async def seen(self, event_id: str) -> bool:
        return await self._collection.find_one({"_id": event_id}) is not None

    async def record(self, event_id: str, *, event_type: str, outcome: str, now: datetime) -> None:
        await self._collection.update_one(
            {"_id": event_id},
            {"$setOnInsert": {"type": event_type, "outcome": outcome, "received_at": now}},
            upsert=True,
        )


@dataclass(frozen=True, slots=True)
class UsageRecord:
    analysis_id: str
    user_id: str
    units: int
    day_key: str
    month_key: str
    counted: bool


class UsageRecords:
    """The durable ledger of committed usage, one document per analysis; Redis counters are rebuilt from it."""

    def __init__(self, db: Database) -> None:
        self._collection = db[USAGE]

    async def record(
        self,
        *,
        analysis_id: str,
        user_id: str,
        units: int,
        day_key: str,
        month_key: str,
        reserved_at: datetime | None,
        committed_at: datetime,
        counted: bool,
    ) -> UsageRecord:
        """Writes the usage of one analysis once; `counted` says whether Redis counters already include it."""
        update: Document = {
            "$setOnInsert": {
                "user_id": user_id,
                "units": units,
                "day_key": day_key,
                "month_key": month_key,
                "reserved_at": reserved_at,
                "committed_at": committed_at,
            }
        }
        if counted:
            update["$set"] = {"counted": True}
        else:
            update["$setOnInsert"]["counted"] = False
        await self._collection.update_one({"_id": analysis_id}, update, upsert=True)
        doc = await self._collection.find_one({"_id": analysis_id})
        assert doc is not None
        return UsageRecord(
            analysis_id=analysis_id,
            user_id=doc["user_id"],
            units=int(doc["units"]),
            day_key=doc["day_key"],
            month_key=doc["month_key"],
            counted=bool(doc.get("counted")),
        )

    async def mark_counted(self, analysis_id: str) -> None:
        await self._collection.update_one({"_id": analysis_id}, {"$set": {"counted": True}})

    async def totals(self, user_id: str, *, day_key: str, month_key: str) -> tuple[int, int, int]:
        """Units committed by a user in the given day and month windows, and over the account's life."""
        day = month = total = 0
        cursor = self._collection.find({"user_id": user_id}, {"units": 1, "day_key": 1, "month_key": 1})
        async for doc in cursor:
            units = int(doc["units"])
            total += units
            day += units if doc.get("day_key") == day_key else 0
            month += units if doc.get("month_key") == month_key else 0
        return day, month, total
