"""HTTP models of usage and plans: the usage service's replies without their message envelope."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from chartwise_contracts.usage import PlanDetails, PlanSource, UsageReport, UserUsageSummary, WindowUsage


class UsageOut(BaseModel):
    plan: str
    windows: list[WindowUsage]
    as_of: datetime

    @classmethod
    def of(cls, report: UsageReport) -> UsageOut:
        return cls(plan=report.plan, windows=report.windows, as_of=report.as_of)


class PlanOut(BaseModel):
    plan: str
    source: PlanSource
    daily_limit: int | None
    monthly_limit: int | None
    total_limit: int | None
    max_charts_per_analysis: int
    time_zone: str
    subscription_status: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None

    @classmethod
    def of(cls, details: PlanDetails) -> PlanOut:
        return cls.model_validate(details.model_dump(exclude={"meta", "user_id"}))


class AdminPlanOut(PlanOut):
    user_id: str

    @classmethod
    def of(cls, details: PlanDetails) -> AdminPlanOut:
        return cls.model_validate(details.model_dump(exclude={"meta"}))


class UsageOverviewOut(BaseModel):
    users: list[UserUsageSummary]
    next_after_user_id: str | None
