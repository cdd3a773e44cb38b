"""The caller's account settings kept by the usage service: the time zone of their daily window."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, PlanDetails, SetTimeZone
from chartwise_gateway.deps import ClientsDep, CurrentUser
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_gateway.usage_models import PlanOut

router = APIRouter(prefix="/v1/account", tags=["usage"], responses=ERROR_RESPONSES)


class TimeZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(min_length=1, max_length=64, description="An IANA zone name, e.g. `Europe/London`.")


@router.put("/time-zone", operation_id="putTimeZone")
async def put_time_zone(body: TimeZoneIn, user: CurrentUser, clients: ClientsDep) -> PlanOut:
    """Sets the zone in which the caller's daily window turns over; answers the plan as it now stands."""
    # The usage service judges the zone (422 for one it does not know): it is the one that computes the windows.
    command = SetTimeZone.new(
        actor=user.user_id, correlation_id=user.correlation_id, user_id=user.user_id, time_zone=body.time_zone
    )
    details = await clients.call(command, subject=rpc_subject(USAGE_SERVICE, "SetTimeZone"), reply_type=PlanDetails)
    return PlanOut.of(details)
