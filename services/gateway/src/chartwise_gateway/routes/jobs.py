"""A user's own jobs, and the admin's view of the queues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chartwise_contracts.jobs import JobState
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    GetJob,
    GetJobReply,
    JobView,
    QueueCounts,
    QueueCountsReply,
    SchedulerOps,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_gateway.deps import AdminOnly, ClientsDep, CorrelationId, CurrentUser
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_runtime.errors import NotFound

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)

JobId = Annotated[str, Field(min_length=1, max_length=200)]
QueueName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class QueueStatus(BaseModel):
    queue: str
    paused: bool
    counts: dict[JobState, int]


@router.get("/jobs/{job_id}", tags=["jobs"], operation_id="getJob")
async def get_job(job_id: JobId, user: CurrentUser, clients: ClientsDep) -> JobView:
    """One of the caller's jobs; a job of anyone else answers 404, exactly like a job that does not exist."""
    query = GetJob.new(actor=user.user_id, correlation_id=user.correlation_id, job_id=job_id)
    reply = await clients.call(
        query, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.GET_JOB), reply_type=GetJobReply
    )
    # Jobs carry their owner in the payload (`user_id`); a job without one belongs to no user.
    if reply.job.payload.get("user_id") != user.user_id:
        raise NotFound("no such job", details={"job_id": job_id})
    return reply.job


@router.get("/admin/queues/{queue}", tags=["admin"], operation_id="adminQueueCounts", dependencies=[AdminOnly])
async def queue_counts(queue: QueueName, clients: ClientsDep, correlation_id: CorrelationId) -> QueueStatus:
    query = QueueCounts.new(actor="admin", correlation_id=correlation_id, queue=queue)
    reply = await clients.call(
        query, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.QUEUE_COUNTS), reply_type=QueueCountsReply
    )
    return QueueStatus(queue=reply.queue, paused=reply.paused, counts=reply.counts)
