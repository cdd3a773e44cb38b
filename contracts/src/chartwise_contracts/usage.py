"""What the usage service answers on `rpc_subject("usage", <operation>)`.

Operations (request → reply): `ReserveQuota` → `QuotaReserved` (or an `ErrorReply` with code
`quota_exceeded` whose `details` are a `QuotaDenial`), `GetUsage` → `UsageReport`, `GetPlan` → `PlanDetails`,
`SetPlan` / `SetTimeZone` → `PlanDetails`, `AdminUsageOverview` → `UsageOverview`,
`HandleStripeWebhook` → `StripeWebhookHandled` (an `ErrorReply` with code `invalid_input` on a bad signature).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chartwise_contracts.messages import Command, Query, Reply

USAGE_SERVICE = "usage"
"""The service name to pass to `rpc_subject` for every operation below."""

MAX_WEBHOOK_PAYLOAD = 1_000_000


class QuotaWindow(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"
    TOTAL = "total"


class PlanSource(StrEnum):
    FREE = "free"
    STRIPE = "stripe"
    ADMIN = "admin"


class WindowUsage(BaseModel):
    """One window's figures; `limit` None means unlimited, `resets_at` None means it never resets (total)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    window: QuotaWindow
    limit: int | None = Field(ge=0)
    used: int = Field(ge=0, description="Committed: analyses that completed.")
    reserved: int = Field(ge=0, description="Held by analyses still running.")
    remaining: int | None = Field(ge=0)
    starts_at: AwareDatetime | None
    resets_at: AwareDatetime | None


class QuotaDenial(BaseModel):
    """Why a reservation was refused: the `details` of the `quota_exceeded` error reply."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    window: QuotaWindow
    limit: int = Field(ge=0)
    used: int = Field(ge=0, description="Committed and reserved units counted against the limit.")
    requested: int = Field(ge=1)
    resets_at: AwareDatetime | None = Field(description="None for the lifetime total, which never resets.")
    plan: str


class ReserveQuota(Command):
    """Reserve `units` of the user's quota for one analysis; idempotent on `analysis_id`."""

    user_id: str = Field(min_length=1, max_length=128)
    analysis_id: str = Field(min_length=1, max_length=64)
    units: int = Field(default=1, ge=1, le=100)


class QuotaReserved(Reply):
    analysis_id: str
    user_id: str
    units: int
    plan: str
    max_charts_per_analysis: int = Field(ge=1)
    expires_at: AwareDatetime = Field(description="Released automatically unless the analysis ends before.")


class GetUsage(Query):
    user_id: str = Field(min_length=1, max_length=128)


class UsageReport(Reply):
    user_id: str
    plan: str
    windows: list[WindowUsage]
    as_of: AwareDatetime


class GetPlan(Query):
    user_id: str = Field(min_length=1, max_length=128)


class PlanDetails(Reply):
    user_id: str
    plan: str
    source: PlanSource
    daily_limit: int | None
    monthly_limit: int | None
    total_limit: int | None
    max_charts_per_analysis: int = Field(ge=1)
    time_zone: str
    subscription_status: str | None = None
    current_period_start: AwareDatetime | None = None
    current_period_end: AwareDatetime | None = None


class SetPlan(Command):
    """Admin: give a user a plan from the tier table, or `None` to return to what Stripe says (or free)."""

    user_id: str = Field(min_length=1, max_length=128)
    plan: str | None = Field(min_length=1, max_length=64)


class SetTimeZone(Command):
    """Set the IANA time zone in which the user's daily window turns over."""

    user_id: str = Field(min_length=1, max_length=128)
    time_zone: str = Field(min_length=1, max_length=64)


class AdminUsageOverview(Query):
    """Admin: usage of many users, ordered by user id, one page after `after_user_id`."""

    after_user_id: str | None = Field(default=None, max_length=128)
    limit: int = Field(default=50, ge=1, le=500)


class UserUsageSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: str
    plan: str
    source: PlanSource
    daily_used: int
    monthly_used: int
    total_used: int


class UsageOverview(Reply):
    users: list[UserUsageSummary]
    next_after_user_id: str | None = None


class HandleStripeWebhook(Command):
    """A Stripe webhook as received: the raw body, unparsed, and its `Stripe-Signature` header."""

    payload: str = Field(min_length=1, max_length=MAX_WEBHOOK_PAYLOAD)
    signature: str = Field(max_length=2000)


class StripeWebhookHandled(Reply):
    event_id: str
    event_type: str
    outcome: Literal["applied", "duplicate", "stale", "ignored"]
