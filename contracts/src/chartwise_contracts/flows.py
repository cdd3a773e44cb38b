"""Who publishes which messages on which stream, and who consumes them: the map of the system's traffic.

`FLOWS` and `RPCS` record what the services do today; `PLANNED` records traffic a service is meant to take
part in but does not yet, kept apart so nothing here claims more than the code does. The contract test
`tests/contract/test_stream_flows.py` checks this map against each service's AsyncAPI document (what it
consumes), its sources (what it sends) and its handlers (what it answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chartwise_contracts.analysis import AnalysisCancelled, AnalysisCompleted, AnalysisFailed
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
from chartwise_contracts.identity import UserRegistered
from chartwise_contracts.jobs import JobActive, JobCancelled, JobCompleted, JobFailed, JobProgress, JobRetrying
from chartwise_contracts.journal import (
    AddTrade,
    CloseTrade,
    DeleteTrade,
    ExportTradesCsv,
    GetJournalStats,
    GetTrade,
    ImportReport,
    ImportTradesCsv,
    JournalRpc,
    JournalStats,
    ListTrades,
    TradeDeleted,
    TradePage,
    TradeReply,
    TradesCsv,
    UpdateTrade,
)
from chartwise_contracts.messages import Message, Reply
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    CancelJob,
    CancelJobReply,
    CleanQueue,
    CleanQueueReply,
    DeadLetterReplayed,
    DeadLettersPage,
    EnqueueJob,
    EnqueueJobReply,
    EnqueueJobs,
    EnqueueJobsReply,
    FindJobs,
    FindJobsReply,
    GetJob,
    GetJobReply,
    GetSchedule,
    GetScheduleReply,
    ListDeadLetters,
    ListSchedules,
    ListSchedulesReply,
    PauseQueue,
    QueueCounts,
    QueueCountsReply,
    QueueStatusReply,
    RemoveSchedule,
    RemoveScheduleReply,
    ReplayDeadLetter,
    ResumeQueue,
    SchedulerOps,
    UpsertSchedule,
    UpsertScheduleReply,
)
from chartwise_contracts.streams import Streams, rpc_subject
from chartwise_contracts.usage import (
    USAGE_SERVICE,
    AdminUsageOverview,
    GetPlan,
    GetUsage,
    HandleStripeWebhook,
    PlanDetails,
    QuotaReserved,
    ReserveQuota,
    SetPlan,
    SetTimeZone,
    StripeWebhookHandled,
    UsageOverview,
    UsageReport,
)


@dataclass(frozen=True, slots=True)
class Flow:
    """Messages published on a stream by `producers` and consumed by each of `consumers` (one group each)."""

    stream: str
    messages: tuple[type[Message], ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    via_worker_kit: bool = False
    """Produced by the runtime worker kit on behalf of each producer, not by the producer's own code."""
    decoded_by_hand: tuple[str, ...] = ()
    """Consumers whose subscriber takes raw entries (a batch) and validates them itself, so AsyncAPI shows no types."""
    tailed_by: tuple[str, ...] = ()
    """Consumers that follow the stream with plain XREAD, outside FastStream and without a consumer group (to fan
    it out to HTTP clients); each declares the types it decodes in a module-level `STREAM_READS` of its package."""


@dataclass(frozen=True, slots=True)
class Rpc:
    """A request/reply operation: `clients` send `request` on `subject`; `server` answers `reply` or `ErrorReply`."""

    subject: str
    request: type[Message]
    reply: type[Reply]
    server: str
    clients: tuple[str, ...]


Role = Literal["producer", "consumer", "client"]


@dataclass(frozen=True, slots=True)
class Planned:
    """A part a service is meant to play on a stream or subject but does not play yet."""

    channel: str
    service: str
    role: Role
    why: str


JOB_EVENT_TYPES: tuple[type[Message], ...] = (
    JobActive,
    JobProgress,
    JobCompleted,
    JobRetrying,
    JobFailed,
    JobCancelled,
)

FLOWS: tuple[Flow, ...] = (
    Flow(Streams.ANALYSIS_COMMANDS.name, (RequestAnalysis,), producers=("gateway",), consumers=("analysis",)),
    Flow(
        Streams.ANALYSIS_EVENTS.name,
        (AnalysisCompleted, AnalysisFailed, AnalysisCancelled),
        producers=("analysis",),
        consumers=("usage", "gateway"),
        tailed_by=("gateway",),
    ),
    Flow(Streams.IDENTITY_EVENTS.name, (UserRegistered,), producers=("gateway",), consumers=("usage",)),
    Flow(Streams.SCHEDULER_COMMANDS.name, (EnqueueJob,), producers=("analysis",), consumers=("scheduler",)),
    Flow(
        Streams.JOB_EVENTS.name,
        JOB_EVENT_TYPES,
        producers=("analysis",),
        consumers=("scheduler", "gateway"),
        via_worker_kit=True,
        decoded_by_hand=("scheduler",),
        tailed_by=("gateway",),
    ),
)


def _usage(op: str) -> str:
    return rpc_subject(USAGE_SERVICE, op)


def _scheduler(op: str) -> str:
    return rpc_subject(SCHEDULER_SERVICE, op)


RPCS: tuple[Rpc, ...] = (
    Rpc(AnalysisRpc.GET, GetAnalysis, AnalysisReply, server="analysis", clients=("gateway",)),
    Rpc(AnalysisRpc.LIST, ListAnalyses, AnalysisPage, server="analysis", clients=("gateway",)),
    Rpc(AnalysisRpc.RENAME, RenameAnalysis, AnalysisReply, server="analysis", clients=("gateway",)),
    Rpc(AnalysisRpc.DELETE, DeleteAnalysis, AnalysisDeleted, server="analysis", clients=("gateway",)),
    Rpc(AnalysisRpc.SHARE, ShareAnalysis, AnalysisShared, server="analysis", clients=("gateway",)),
    Rpc(AnalysisRpc.REVOKE_SHARE, RevokeShare, AnalysisShareRevoked, server="analysis", clients=("gateway",)),
    Rpc(AnalysisRpc.GET_SHARED, GetSharedAnalysis, SharedAnalysisReply, server="analysis", clients=("gateway",)),
    Rpc(JournalRpc.ADD_TRADE, AddTrade, TradeReply, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.UPDATE_TRADE, UpdateTrade, TradeReply, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.CLOSE_TRADE, CloseTrade, TradeReply, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.DELETE_TRADE, DeleteTrade, TradeDeleted, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.GET_TRADE, GetTrade, TradeReply, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.LIST_TRADES, ListTrades, TradePage, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.GET_STATS, GetJournalStats, JournalStats, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.IMPORT_CSV, ImportTradesCsv, ImportReport, server="journal", clients=("gateway",)),
    Rpc(JournalRpc.EXPORT_CSV, ExportTradesCsv, TradesCsv, server="journal", clients=("gateway",)),
    Rpc(_usage("ReserveQuota"), ReserveQuota, QuotaReserved, server="usage", clients=("gateway", "analysis")),
    Rpc(_usage("GetUsage"), GetUsage, UsageReport, server="usage", clients=("gateway",)),
    Rpc(_usage("GetPlan"), GetPlan, PlanDetails, server="usage", clients=("gateway", "analysis")),
    Rpc(_usage("SetPlan"), SetPlan, PlanDetails, server="usage", clients=("gateway",)),
    Rpc(_usage("SetTimeZone"), SetTimeZone, PlanDetails, server="usage", clients=("gateway",)),
    Rpc(_usage("AdminUsageOverview"), AdminUsageOverview, UsageOverview, server="usage", clients=("gateway",)),
    Rpc(_usage("HandleStripeWebhook"), HandleStripeWebhook, StripeWebhookHandled, server="usage", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.ENQUEUE), EnqueueJob, EnqueueJobReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.ENQUEUE_BULK), EnqueueJobs, EnqueueJobsReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.CANCEL), CancelJob, CancelJobReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.GET_JOB), GetJob, GetJobReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.FIND_JOBS), FindJobs, FindJobsReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.QUEUE_COUNTS), QueueCounts, QueueCountsReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.PAUSE_QUEUE), PauseQueue, QueueStatusReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.RESUME_QUEUE), ResumeQueue, QueueStatusReply, server="scheduler", clients=("gateway",)),
    Rpc(_scheduler(SchedulerOps.CLEAN_QUEUE), CleanQueue, CleanQueueReply, server="scheduler", clients=("gateway",)),
    Rpc(
        _scheduler(SchedulerOps.UPSERT_SCHEDULE),
        UpsertSchedule,
        UpsertScheduleReply,
        server="scheduler",
        clients=("gateway",),
    ),
    Rpc(
        _scheduler(SchedulerOps.REMOVE_SCHEDULE),
        RemoveSchedule,
        RemoveScheduleReply,
        server="scheduler",
        clients=("gateway",),
    ),
    Rpc(
        _scheduler(SchedulerOps.LIST_SCHEDULES),
        ListSchedules,
        ListSchedulesReply,
        server="scheduler",
        clients=("gateway",),
    ),
    Rpc(_scheduler(SchedulerOps.GET_SCHEDULE), GetSchedule, GetScheduleReply, server="scheduler", clients=("gateway",)),
    Rpc(
        _scheduler(SchedulerOps.LIST_DEAD_LETTERS),
        ListDeadLetters,
        DeadLettersPage,
        server="scheduler",
        clients=("gateway",),
    ),
    Rpc(
        _scheduler(SchedulerOps.REPLAY_DEAD_LETTER),
        ReplayDeadLetter,
        DeadLetterReplayed,
        server="scheduler",
        clients=("gateway",),
    ),
)

PLANNED: tuple[Planned, ...] = ()
