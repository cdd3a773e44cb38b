"""The caller's usage and plan, as the usage service reports them."""

from __future__ import annotations

from fastapi import APIRouter

from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, GetPlan, GetUsage, PlanDetails, UsageReport
from chartwise_gateway.deps import ClientsDep, CurrentUser
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_gateway.usage_models import PlanOut, UsageOut

router = APIRouter(prefix="/v1", tags=["usage"], responses=ERROR_RESPONSES)


@router.get("/usage", operation_id="getUsage")
async def get_usage(user: CurrentUser, clients: ClientsDep) -> UsageOut:
    query = GetUsage.new(actor=user.user_id, correlation_id=user.correlation_id, user_id=user.user_id)
    report = await clients.call(query, subject=rpc_subject(USAGE_SERVICE, "GetUsage"), reply_type=UsageReport)
    return UsageOut.of(report)


@router.get("/plan", operation_id="getPlan")
async def get_plan(user: CurrentUser, clients: ClientsDep) -> PlanOut:
    query = GetPlan.new(actor=user.user_id, correlation_id=user.correlation_id, user_id=user.user_id)
    details = await clients.call(query, subject=rpc_subject(USAGE_SERVICE, "GetPlan"), reply_type=PlanDetails)
    return PlanOut.of(details)
