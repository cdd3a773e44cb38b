"""Admin routes, guarded by ADMIN_TOKEN: users, their keys, their plans, usage across users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, AdminUsageOverview, PlanDetails, SetPlan, UsageOverview
from chartwise_gateway.deps import AdminOnly, ClientsDep, CorrelationId
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_gateway.identity.models import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyPublic,
    UserCreate,
    UserCreated,
    UserPublic,
)
from chartwise_gateway.usage_models import AdminPlanOut, UsageOverviewOut
from chartwise_runtime.errors import NotFound

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminOnly], responses=ERROR_RESPONSES)

ADMIN_ACTOR = "admin"


class PlanChange(BaseModel):
    plan: str | None = Field(min_length=1, max_length=64, description="A tier name, or null to follow Stripe.")


@router.post("/users", status_code=status.HTTP_201_CREATED, operation_id="adminCreateUser")
async def create_user(body: UserCreate, clients: ClientsDep, correlation_id: CorrelationId) -> UserCreated:
    user, issued = await clients.identity.register_user(
        email=body.email,
        key_name=body.key_name,
        broker=clients.broker,
        correlation_id=correlation_id,
        time_zone=body.time_zone,
    )
    return UserCreated(user=UserPublic.of(user), api_key=KeyCreated.issued(issued))


@router.get("/users/{user_id}", operation_id="adminGetUser")
async def get_user(user_id: str, clients: ClientsDep) -> UserPublic:
    user = await clients.identity.store.user(user_id)
    if user is None:
        raise NotFound("no such user", details={"user_id": user_id})
    return UserPublic.of(user)


@router.get("/users/{user_id}/keys", operation_id="adminListKeys")
async def list_keys(user_id: str, clients: ClientsDep) -> KeyList:
    await get_user(user_id, clients)
    return KeyList(items=[KeyPublic.of(k) for k in await clients.identity.store.keys_of(user_id)])


@router.post("/users/{user_id}/keys", status_code=status.HTTP_201_CREATED, operation_id="adminCreateKey")
async def create_key(user_id: str, body: KeyCreate, clients: ClientsDep) -> KeyCreated:
    return KeyCreated.issued(await clients.identity.issue_key(user_id, name=body.name))


@router.delete("/users/{user_id}/keys/{key_id}", operation_id="adminRevokeKey")
async def revoke_key(user_id: str, key_id: str, clients: ClientsDep) -> KeyPublic:
    return KeyPublic.of(await clients.identity.revoke_key(user_id, key_id))


@router.put("/users/{user_id}/plan", operation_id="adminSetPlan")
async def set_plan(user_id: str, body: PlanChange, clients: ClientsDep, correlation_id: CorrelationId) -> AdminPlanOut:
    await get_user(user_id, clients)
    command = SetPlan.new(actor=ADMIN_ACTOR, correlation_id=correlation_id, user_id=user_id, plan=body.plan)
    details = await clients.call(command, subject=rpc_subject(USAGE_SERVICE, "SetPlan"), reply_type=PlanDetails)
    return AdminPlanOut.of(details)


@router.get("/usage", operation_id="adminUsageOverview")
async def usage_overview(
    clients: ClientsDep,
    correlation_id: CorrelationId,
    after_user_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> UsageOverviewOut:
    query = AdminUsageOverview.new(
        actor=ADMIN_ACTOR, correlation_id=correlation_id, after_user_id=after_user_id, limit=limit
    )
    overview = await clients.call(
        query, subject=rpc_subject(USAGE_SERVICE, "AdminUsageOverview"), reply_type=UsageOverview
    )
    return UsageOverviewOut(users=overview.users, next_after_user_id=overview.next_after_user_id)
