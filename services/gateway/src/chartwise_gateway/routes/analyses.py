"""Chart analyses: submit (JSON or upload), read, list, rename, delete, share, and follow live over SSE."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from chartwise_contracts import Streams, new_id
from chartwise_contracts.analysis_api import (
    MAX_PAGE_SIZE,
    AnalysisDeleted,
    AnalysisMetadata,
    AnalysisPage,
    AnalysisReply,
    AnalysisRpc,
    AnalysisShared,
    AnalysisShareRevoked,
    AnalysisStatus,
    AnalysisView,
    ChartReference,
    DeleteAnalysis,
    GetAnalysis,
    GetSharedAnalysis,
    ListAnalyses,
    RenameAnalysis,
    RequestAnalysis,
    RevokeShare,
    ShareAnalysis,
    SharedAnalysisReply,
    SharedAnalysisView,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, GetPlan, PlanDetails, QuotaReserved, ReserveQuota
from chartwise_gateway.analysis_intake import AnalysisIntake, AnalysisJobSchema, AnalysisUploadForm, read_intake
from chartwise_gateway.clients import Clients
from chartwise_gateway.deps import ClientsDep, CurrentUser, Principal
from chartwise_gateway.errors import ERROR_RESPONSES, ErrorBody
from chartwise_gateway.events import analysis_event_stream
from chartwise_gateway.idempotency import IdempotencyStore, fingerprint
from chartwise_gateway.images import ImageLimits, validate_image
from chartwise_runtime.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["analyses"], responses=ERROR_RESPONSES)

AnalysisIdPath = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ShareTokenPath = Annotated[str, Field(min_length=16, max_length=128)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]

BLOB_FOLDER = "charts"


class AnalysisLinks(BaseModel):
    self: str
    events: str


class AnalysisAccepted(BaseModel):
    id: str
    status: AnalysisStatus
    links: AnalysisLinks


class AnalysisList(BaseModel):
    items: list[AnalysisView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AnalysisRename(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ShareLink(BaseModel):
    token: str
    url: str


def _new(user: Principal, message_type: Any, **fields: Any) -> Any:
    return message_type.new(actor=user.user_id, correlation_id=user.correlation_id, user_id=user.user_id, **fields)


def _links(clients: Clients, analysis_id: str) -> AnalysisLinks:
    base = clients.settings.public_base_url.rstrip("/")
    return AnalysisLinks(self=f"{base}/v1/analyses/{analysis_id}", events=f"{base}/v1/analyses/{analysis_id}/events")


SUBMIT_MODELS: list[type[BaseModel]] = [AnalysisJobSchema, AnalysisUploadForm]
SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AnalysisJobSchema"}},
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/AnalysisUploadForm"}},
        },
    }
}


@router.post(
    "/analyses",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="requestAnalysis",
    openapi_extra=SUBMIT_BODY,
    response_model=AnalysisAccepted,
    responses={
        202: {"description": "Accepted: queued for analysis", "model": AnalysisAccepted},
        409: {"description": "Idempotency-Key reused for another request", "model": ErrorBody},
        413: {"description": "Body or image too large", "model": ErrorBody},
        415: {"description": "Not a PNG, JPEG or WebP image", "model": ErrorBody},
    },
)
async def request_analysis(
    request: Request, user: CurrentUser, clients: ClientsDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Validates the charts, stores them, reserves quota and queues the analysis; follow `links.events`."""
    settings = clients.settings
    limits = ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    intake = await read_intake(request, limits=limits, max_charts=settings.max_images)
    store = IdempotencyStore(clients.redis, ttl_s=settings.idempotency_ttl_s)
    request_fingerprint = fingerprint(*intake.fingerprint_parts())
    if idempotency_key is not None:
        stored = await store.begin(user.user_id, idempotency_key, request_fingerprint)
        if stored is not None:
            return JSONResponse(stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"})
    try:
        accepted = await _submit(intake, user, clients, limits=limits)
    except BaseException:
        if idempotency_key is not None:
            await store.abandon(user.user_id, idempotency_key)
        raise
    body = accepted.model_dump(mode="json")
    if idempotency_key is not None:
        await store.complete(user.user_id, idempotency_key, request_fingerprint, status=202, body=body)
    return JSONResponse(body, status_code=202, headers={"Location": accepted.links.self})


async def _submit(
    intake: AnalysisIntake, user: Principal, clients: Clients, *, limits: ImageLimits
) -> AnalysisAccepted:
    plan = await clients.call(
        _new(user, GetPlan), subject=rpc_subject(USAGE_SERVICE, "GetPlan"), reply_type=PlanDetails
    )
    allowed = min(plan.max_charts_per_analysis, clients.settings.max_images)
    if len(intake.charts) > allowed:
        raise InvalidInput(
            f"the {plan.plan} plan allows {allowed} chart(s) per analysis",
            details={"max_charts": allowed, "given": len(intake.charts), "plan": plan.plan},
        )
    charts: list[ChartReference] = []
    for source in intake.charts:
        if source.data is None:
            charts.append(ChartReference(url=source.url))
            continue
        image = await asyncio.to_thread(validate_image, source.data, limits=limits, label=source.label)
        stored = await clients.blobs.put(image.data, content_type=image.content_type, folder=BLOB_FOLDER)
        charts.append(ChartReference(blob_key=stored.key))
    analysis_id = f"an_{new_id()}"
    await clients.call(
        _new(user, ReserveQuota, analysis_id=analysis_id, units=1),
        subject=rpc_subject(USAGE_SERVICE, "ReserveQuota"),
        reply_type=QuotaReserved,
    )
    command = _new(
        user,
        RequestAnalysis,
        analysis_id=analysis_id,
        charts=charts,
        metadata=AnalysisMetadata(
            strategy_and_criteria=intake.metadata.strategy_and_criteria, risk=intake.metadata.risk
        ),
        name=intake.name,
        delay_ms=intake.delay_ms,
    )
    await clients.send(command, stream=Streams.ANALYSIS_COMMANDS.name, maxlen=Streams.ANALYSIS_COMMANDS.maxlen)
    return AnalysisAccepted(id=analysis_id, status=AnalysisStatus.QUEUED, links=_links(clients, analysis_id))


@router.get("/analyses", operation_id="listAnalyses")
async def list_analyses(
    user: CurrentUser,
    clients: ClientsDep,
    cursor: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> AnalysisList:
    """The caller's analyses, newest first; follow `next_cursor` for older ones."""
    page = await clients.call(
        _new(user, ListAnalyses, cursor=cursor, limit=limit), subject=AnalysisRpc.LIST, reply_type=AnalysisPage
    )
    return AnalysisList(items=page.items, next_cursor=page.next_cursor)


@router.get("/analyses/{analysis_id}", operation_id="getAnalysis")
async def get_analysis(analysis_id: AnalysisIdPath, user: CurrentUser, clients: ClientsDep) -> AnalysisView:
    reply = await clients.call(
        _new(user, GetAnalysis, analysis_id=analysis_id), subject=AnalysisRpc.GET, reply_type=AnalysisReply
    )
    return reply.analysis


@router.patch("/analyses/{analysis_id}", operation_id="renameAnalysis")
async def rename_analysis(
    analysis_id: AnalysisIdPath, body: AnalysisRename, user: CurrentUser, clients: ClientsDep
) -> AnalysisView:
    command = _new(user, RenameAnalysis, analysis_id=analysis_id, name=body.name)
    return (await clients.call(command, subject=AnalysisRpc.RENAME, reply_type=AnalysisReply)).analysis


@router.delete("/analyses/{analysis_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteAnalysis")
async def delete_analysis(analysis_id: AnalysisIdPath, user: CurrentUser, clients: ClientsDep) -> Response:
    await clients.call(
        _new(user, DeleteAnalysis, analysis_id=analysis_id), subject=AnalysisRpc.DELETE, reply_type=AnalysisDeleted
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/analyses/{analysis_id}/share", operation_id="shareAnalysis")
async def share_analysis(analysis_id: AnalysisIdPath, user: CurrentUser, clients: ClientsDep) -> ShareLink:
    """A public link to a completed analysis; sharing again gives the same link."""
    shared = await clients.call(
        _new(user, ShareAnalysis, analysis_id=analysis_id), subject=AnalysisRpc.SHARE, reply_type=AnalysisShared
    )
    base = clients.settings.public_base_url.rstrip("/")
    return ShareLink(token=shared.token, url=f"{base}/v1/shared/{shared.token}")


@router.delete("/analyses/{analysis_id}/share", status_code=status.HTTP_204_NO_CONTENT, operation_id="unshareAnalysis")
async def unshare_analysis(analysis_id: AnalysisIdPath, user: CurrentUser, clients: ClientsDep) -> Response:
    await clients.call(
        _new(user, RevokeShare, analysis_id=analysis_id),
        subject=AnalysisRpc.REVOKE_SHARE,
        reply_type=AnalysisShareRevoked,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/shared/{token}", operation_id="getSharedAnalysis", tags=["public"])
async def get_shared(token: ShareTokenPath, request: Request, clients: ClientsDep) -> SharedAnalysisView:
    """A shared analysis, readable by anyone with the link; nothing about its owner is shown."""
    query = GetSharedAnalysis.new(correlation_id=request.state.correlation_id, token=token)
    return (await clients.call(query, subject=AnalysisRpc.GET_SHARED, reply_type=SharedAnalysisReply)).analysis


@router.get(
    "/analyses/{analysis_id}/events",
    operation_id="analysisEvents",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "Server-Sent Events"}
    },
)
async def analysis_events(
    analysis_id: AnalysisIdPath, request: Request, user: CurrentUser, clients: ClientsDep
) -> StreamingResponse:
    """Server-Sent Events: `status` first, then `active`, `progress`, and finally `completed` or `failed`."""
    stream = await analysis_event_stream(
        analysis_id,
        clients=clients,
        fetch=lambda: get_analysis(analysis_id, user, clients),
        is_disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
