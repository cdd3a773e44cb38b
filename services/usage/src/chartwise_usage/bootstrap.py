"""Wires the usage service's parts from its clients, in one place (the app and the tests both use it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import BlockingConnectionPool, Redis

from chartwise_runtime.mongo import Database
from chartwise_usage.billing import StripeBilling
from chartwise_usage.clock import Clock, SystemClock
from chartwise_usage.directory import PlanDirectory
from chartwise_usage.ledger import QuotaLedger
from chartwise_usage.plans import DEFAULT_TIERS, PlanTable, Tier
from chartwise_usage.quota import QuotaService
from chartwise_usage.storage import Accounts, StripeEvents, Subscriptions, UsageRecords
from chartwise_usage.stripe_sync import StripeSync

REDIS_POOL_SIZE = 64


def connect_redis(url: str, *, max_connections: int = REDIS_POOL_SIZE) -> Redis:
    """A decoding Redis client whose pool makes callers wait for a free connection instead of failing."""
    pool = BlockingConnectionPool.from_url(url, decode_responses=True, max_connections=max_connections, timeout=10)
    return Redis(connection_pool=pool)


@dataclass(frozen=True, slots=True)
class Usage:
    accounts: Accounts
    directory: PlanDirectory
    quota: QuotaService
    stripe_sync: StripeSync
    clock: Clock
    billing: StripeBilling | None
    webhook_secret: str | None


def bootstrap(
    *,
    redis: Redis,
    db: Database,
    clock: Clock | None = None,
    tiers: tuple[Tier, ...] = DEFAULT_TIERS,
    reservation_ttl: timedelta = timedelta(minutes=30),
    settled_ttl: timedelta = timedelta(days=7),
    plan_cache_ttl: timedelta = timedelta(minutes=5),
    billing: StripeBilling | None = None,
    webhook_secret: str | None = None,
) -> Usage:
    """`redis` must decode responses to str."""
    clock = clock or SystemClock()
    accounts = Accounts(db)
    subscriptions = Subscriptions(db)
    directory = PlanDirectory(
        accounts=accounts,
        subscriptions=subscriptions,
        table=PlanTable(tiers),
        redis=redis,
        clock=clock,
        cache_ttl=plan_cache_ttl,
    )
    quota = QuotaService(
        ledger=QuotaLedger(redis, settled_ttl=settled_ttl),
        directory=directory,
        records=UsageRecords(db),
        clock=clock,
        reservation_ttl=reservation_ttl,
    )
    sync = StripeSync(
        accounts=accounts, subscriptions=subscriptions, events=StripeEvents(db), directory=directory, clock=clock
    )
    return Usage(
        accounts=accounts,
        directory=directory,
        quota=quota,
        stripe_sync=sync,
        clock=clock,
        billing=billing,
        webhook_secret=webhook_secret,
    )
