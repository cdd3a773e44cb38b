"""A user's recurring analyses: upsert by name, list with their next runs, read, delete.

The scheduler keeps the schedules; their ids are namespaced by owner (`user:<user id>:<name>`), so a user
lists only their own and another user's name is simply not found. Cron and time-zone validity are the
scheduler's to judge; its refusal answers 422 through the error envelope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import ValidationError

from chartwise_contracts import new_id
from chartwise_contracts.analysis_api import SCHEDULED_ANALYSIS_JOB, SCHEDULED_ANALYSIS_QUEUE
from chartwise_contracts.jobs import Backoff
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    GetSchedule,
    GetScheduleReply,
    JobOptions,
    JobTemplate,
    ListSchedules,
    ListSchedulesReply,
    RemoveSchedule,
    RemoveScheduleReply,
    SchedulerOps,
    ScheduleView,
    UpsertSchedule,
    UpsertScheduleReply,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, GetPlan, PlanDetails
from chartwise_gateway.clients import Clients
from chartwise_gateway.deps import ClientsDep, CurrentUser, Principal
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_gateway.schedule_models import ScheduleCreate, ScheduleIn, ScheduleList, ScheduleName, ScheduleOut
from chartwise_runtime.errors import InvalidInput, NotFound

router = APIRouter(prefix="/v1/schedules", tags=["schedules"], responses=ERROR_RESPONSES)

MAX_SCHEDULE_ID = 100
RUN_OPTIONS = JobOptions(attempts=3, backoff=Backoff(kind="exponential", delay_ms=10_000, jitter=0.2))
"""A scheduled run only reserves quota and queues the analysis; a few retries ride out a busy usage service."""


def _prefix(user_id: str) -> str:
    return f"user:{user_id}:"


def _schedule_id(user: Principal, name: str) -> str:
    schedule_id = _prefix(user.user_id) + name
    if len(schedule_id) > MAX_SCHEDULE_ID:
        raise InvalidInput(
            "the schedule name is too long", details={"max_chars": MAX_SCHEDULE_ID - len(_prefix(user.user_id))}
        )
    return schedule_id


def _out(view: ScheduleView, user: Principal) -> ScheduleOut:
    return ScheduleOut.of(view, name=view.schedule_id.removeprefix(_prefix(user.user_id)))


def _scheduler(op: str) -> str:
    return rpc_subject(SCHEDULER_SERVICE, op)


async def _check_chart_count(body: ScheduleIn, user: Principal, clients: Clients) -> None:
    query = GetPlan.new(actor=user.user_id, correlation_id=user.correlation_id, user_id=user.user_id)
    plan = await clients.call(query, subject=rpc_subject(USAGE_SERVICE, "GetPlan"), reply_type=PlanDetails)
    allowed = min(plan.max_charts_per_analysis, clients.settings.max_images)
    if len(body.chart_urls) > allowed:
        raise InvalidInput(
            f"the {plan.plan} plan allows {allowed} chart(s) per analysis",
            details={"max_charts": allowed, "given": len(body.chart_urls), "plan": plan.plan},
        )


def _upsert_command(body: ScheduleIn, user: Principal, name: str) -> UpsertSchedule:
    fields: dict[str, Any] = {
        "schedule_id": _schedule_id(user, name),
        "queue": SCHEDULED_ANALYSIS_QUEUE,
        "cron": body.cron,
        "tz": body.time_zone,
        "limit": body.max_runs,
        "end_at": body.end_at,
        "template": JobTemplate(
            name=SCHEDULED_ANALYSIS_JOB,
            payload=body.job_payload(user.user_id, name).model_dump(mode="json"),
            options=RUN_OPTIONS,
        ),
    }
    try:
        return UpsertSchedule.new(actor=user.user_id, correlation_id=user.correlation_id, **fields)
    except ValidationError as error:
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        raise InvalidInput("the schedule is invalid", details={"errors": problems}) from error


async def _upsert(body: ScheduleIn, name: str, user: Principal, clients: Clients, response: Response) -> ScheduleOut:
    command = _upsert_command(body, user, name)
    await _check_chart_count(body, user, clients)
    reply = await clients.call(
        command, subject=_scheduler(SchedulerOps.UPSERT_SCHEDULE), reply_type=UpsertScheduleReply
    )
    response.status_code = status.HTTP_201_CREATED if reply.created else status.HTTP_200_OK
    return _out(reply.schedule, user)


@router.put(
    "/{name}",
    operation_id="putSchedule",
    responses={200: {"description": "Replaced"}, 201: {"description": "Created"}},
)
async def put_schedule(
    name: ScheduleName, body: ScheduleIn, user: CurrentUser, clients: ClientsDep, response: Response
) -> ScheduleOut:
    """Creates the schedule of this name, or replaces it; the same name never makes two schedules."""
    return await _upsert(body, name, user, clients, response)


@router.post(
    "",
    operation_id="createSchedule",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Replaced the schedule of that name"}, 201: {"description": "Created"}},
)
async def create_schedule(
    body: ScheduleCreate, user: CurrentUser, clients: ClientsDep, response: Response
) -> ScheduleOut:
    """Like `PUT /v1/schedules/{name}`; without a `name` one is chosen (`s_...`)."""
    name = body.name or f"s_{new_id()[:12]}"
    return await _upsert(body, name, user, clients, response)


@router.get("", operation_id="listSchedules")
async def list_schedules(
    user: CurrentUser,
    clients: ClientsDep,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ScheduleList:
    """The caller's schedules in name order, each with its next run."""
    query = ListSchedules.new(
        actor=user.user_id,
        correlation_id=user.correlation_id,
        queue=SCHEDULED_ANALYSIS_QUEUE,
        id_prefix=_prefix(user.user_id),
        offset=offset,
        limit=limit,
    )
    reply = await clients.call(query, subject=_scheduler(SchedulerOps.LIST_SCHEDULES), reply_type=ListSchedulesReply)
    return ScheduleList(items=[_out(v, user) for v in reply.schedules], total=reply.total, offset=offset, limit=limit)


@router.get("/{name}", operation_id="getSchedule")
async def get_schedule(name: ScheduleName, user: CurrentUser, clients: ClientsDep) -> ScheduleOut:
    query = GetSchedule.new(
        actor=user.user_id, correlation_id=user.correlation_id, schedule_id=_schedule_id(user, name)
    )
    try:
        reply = await clients.call(query, subject=_scheduler(SchedulerOps.GET_SCHEDULE), reply_type=GetScheduleReply)
    except NotFound as error:
        raise NotFound("no such schedule", details={"name": name}) from error
    return _out(reply.schedule, user)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteSchedule")
async def delete_schedule(name: ScheduleName, user: CurrentUser, clients: ClientsDep) -> Response:
    """Removes the schedule; analyses it already started are kept."""
    command = RemoveSchedule.new(
        actor=user.user_id, correlation_id=user.correlation_id, schedule_id=_schedule_id(user, name)
    )
    reply = await clients.call(
        command, subject=_scheduler(SchedulerOps.REMOVE_SCHEDULE), reply_type=RemoveScheduleReply
    )
    if not reply.removed:
        raise NotFound("no such schedule", details={"name": name})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
