"""The service's subscribers: `RequestAnalysis` from the command stream, and the request/reply operations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.redis import RedisBroker

from chartwise_analysis import queries
from chartwise_analysis.clock import Clock
from chartwise_analysis.intake import JobPolicy, accept_request
from chartwise_analysis.outbound import EventPublisher, JobScheduler
from chartwise_analysis.record import owner_view
from chartwise_analysis.repository import AnalysisStore
from chartwise_contracts import Groups, Streams
from chartwise_contracts.analysis_api import (
    AnalysisDeleted,
    AnalysisPage,
    AnalysisReply,
    AnalysisRpc,
    AnalysisShared,
    AnalysisShareRevoked,
    DeleteAnalysis,
    GetAnalysis,
    GetSharedAnalysis,
    ListAnalyses,
    RenameAnalysis,
    RequestAnalysis,
    RevokeShare,
    ShareAnalysis,
    SharedAnalysisReply,
)
from chartwise_runtime.broker import reliable_subscriber
from chartwise_runtime.logging import get_logger
from chartwise_runtime.rpc import replies_with_errors, serves_requests

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HandlerDeps:
    store: AnalysisStore
    events: EventPublisher
    jobs: JobScheduler
    clock: Clock
    policy: JobPolicy


INTAKE_CONCURRENCY = 8
"""Analysis requests taken in at once per replica; each waits on one insert and one enqueue."""


def register_handlers(broker: RedisBroker, deps: HandlerDeps, *, consumer: str) -> None:
    store, clock = deps.store, deps.clock

    @reliable_subscriber(
        broker, Streams.ANALYSIS_COMMANDS, group=Groups.ANALYSIS, consumer=consumer, concurrency=INTAKE_CONCURRENCY
    )
    async def on_request_analysis(msg: RequestAnalysis) -> None:
        created = await accept_request(msg, store, deps.jobs, clock=clock, policy=deps.policy)
        log.info("analysis accepted" if created else "analysis request seen again", analysis_id=msg.analysis_id)

    def serves(subject: str, handler: Callable[..., Awaitable[Any]]) -> None:
        serves_requests(broker, subject, group=Groups.ANALYSIS, consumer=consumer)(replies_with_errors(handler))

    async def get_analysis(msg: GetAnalysis) -> AnalysisReply:
        analysis = await queries.get_analysis(store, user_id=msg.user_id, analysis_id=msg.analysis_id)
        return msg.cause(AnalysisReply, analysis=owner_view(analysis))

    async def list_analyses(msg: ListAnalyses) -> AnalysisPage:
        items, cursor = await queries.list_analyses(store, user_id=msg.user_id, cursor=msg.cursor, limit=msg.limit)
        return msg.cause(AnalysisPage, items=[owner_view(a) for a in items], next_cursor=cursor)

    async def rename_analysis(msg: RenameAnalysis) -> AnalysisReply:
        analysis = await queries.rename_analysis(
            store, user_id=msg.user_id, analysis_id=msg.analysis_id, name=msg.name, clock=clock
        )
        return msg.cause(AnalysisReply, analysis=owner_view(analysis))

    async def delete_analysis(msg: DeleteAnalysis) -> AnalysisDeleted:
        cancelled = await queries.delete_analysis(
            store, deps.events, user_id=msg.user_id, analysis_id=msg.analysis_id, clock=clock
        )
        return msg.cause(AnalysisDeleted, analysis_id=msg.analysis_id, cancelled=cancelled)

    async def share_analysis(msg: ShareAnalysis) -> AnalysisShared:
        share = await queries.share_analysis(store, user_id=msg.user_id, analysis_id=msg.analysis_id, clock=clock)
        return msg.cause(AnalysisShared, analysis_id=share.analysis_id, token=share.token, shared_at=share.shared_at)

    async def revoke_share(msg: RevokeShare) -> AnalysisShareRevoked:
        revoked = await queries.revoke_share(store, user_id=msg.user_id, analysis_id=msg.analysis_id, clock=clock)
        return msg.cause(AnalysisShareRevoked, analysis_id=msg.analysis_id, revoked=revoked)

    async def get_shared(msg: GetSharedAnalysis) -> SharedAnalysisReply:
        view = await queries.get_shared(store, token=msg.token)
        return msg.cause(SharedAnalysisReply, analysis=view)

    serves(AnalysisRpc.GET, get_analysis)
    serves(AnalysisRpc.LIST, list_analyses)
    serves(AnalysisRpc.RENAME, rename_analysis)
    serves(AnalysisRpc.DELETE, delete_analysis)
    serves(AnalysisRpc.SHARE, share_analysis)
    serves(AnalysisRpc.REVOKE_SHARE, revoke_share)
    serves(AnalysisRpc.GET_SHARED, get_shared)
