"""Cancelling one job through the scheduler, for the user's and the admin's routes alike."""

from __future__ import annotations

from chartwise_contracts.scheduler import SCHEDULER_SERVICE, CancelJob, CancelJobReply, SchedulerOps
from chartwise_contracts.streams import rpc_subject
from chartwise_gateway.clients import Clients
from chartwise_gateway.job_models import JobCancellation
from chartwise_runtime.errors import Conflict


async def cancel_one(job_id: str, *, clients: Clients, actor: str, correlation_id: str, reason: str) -> JobCancellation:
    """Removes a pending job or asks a running one to stop; Conflict when it had already finished."""
    command = CancelJob.new(actor=actor, correlation_id=correlation_id, job_id=job_id, reason=reason)
    reply = await clients.call(
        command, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.CANCEL), reply_type=CancelJobReply
    )
    if job_id in reply.cancelled_ids:
        return JobCancellation(job_id=job_id, outcome="cancelled")
    if job_id in reply.signalled_ids:
        return JobCancellation(job_id=job_id, outcome="stopping")
    raise Conflict("the job has already finished", details={"job_id": job_id})
