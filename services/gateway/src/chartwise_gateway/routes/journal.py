"""The trade journal: HTTP in front of the journal service's request/reply operations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from chartwise_contracts.journal import (
    MAX_IMPORT_BYTES,
    MAX_PAGE_SIZE,
    AddTrade,
    ClearableField,
    CloseTrade,
    DeleteTrade,
    ExportTradesCsv,
    Fees,
    GetJournalStats,
    GetTrade,
    ImportReport,
    ImportTradesCsv,
    JournalRpc,
    JournalStats,
    ListTrades,
    Price,
    TradeDeleted,
    TradeFilter,
    TradeInput,
    TradePage,
    TradePatch,
    TradePublic,
    TradeReply,
    TradesCsv,
    UpdateTrade,
)
from chartwise_gateway.deps import ClientsDep, CurrentUser, Principal
from chartwise_gateway.errors import ERROR_RESPONSES, BadRequest, PayloadTooLarge, UnsupportedMediaType
from chartwise_gateway.public_models import public, without_envelope

router = APIRouter(prefix="/v1/journal", tags=["journal"], responses=ERROR_RESPONSES)

JournalStatsOut = without_envelope(JournalStats, "JournalStatsOut")
ImportReportOut = without_envelope(ImportReport, "ImportReportOut")

TradeId = Annotated[str, Field(min_length=1, max_length=64)]


class TradeList(BaseModel):
    items: list[TradePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class TradeChanges(TradePatch):
    clear: list[ClearableField] = Field(default_factory=list, max_length=5, description="Optional fields to remove.")


class TradeExit(BaseModel):
    exit_price: Price
    exited_at: AwareDatetime
    fees: Fees | None = None


class TradeListQuery(TradeFilter):
    cursor: str | None = Field(default=None, max_length=512, description="`next_cursor` of the previous page.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


FilterQuery = Annotated[TradeFilter, Query()]


def _only_filter(query: TradeFilter) -> TradeFilter:
    return TradeFilter.model_validate(query.model_dump(include=set(TradeFilter.model_fields)))


def _new(user: Principal, message_type: Any, **fields: Any) -> Any:
    return message_type.new(actor=user.user_id, correlation_id=user.correlation_id, user_id=user.user_id, **fields)


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="addTrade")
async def add_trade(
    trade: TradeInput,
    user: CurrentUser,
    clients: ClientsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)] = None,
) -> TradePublic:
    """Adds an entry; a retry with the same `Idempotency-Key` answers the entry already added (200)."""
    command = _new(user, AddTrade, trade=trade, client_key=idempotency_key)
    reply = await clients.call(command, subject=JournalRpc.ADD_TRADE, reply_type=TradeReply)
    if not reply.created:
        response.status_code = status.HTTP_200_OK
    return reply.trade


@router.get("", operation_id="listTrades")
async def list_trades(user: CurrentUser, clients: ClientsDep, query: Annotated[TradeListQuery, Query()]) -> TradeList:
    """Newest first by entry time; follow `next_cursor` for older entries."""
    trades = _new(user, ListTrades, filter=_only_filter(query), cursor=query.cursor, limit=query.limit)
    page = await clients.call(trades, subject=JournalRpc.LIST_TRADES, reply_type=TradePage)
    return TradeList(items=page.items, next_cursor=page.next_cursor)


@router.get("/stats", operation_id="journalStats", response_model=JournalStatsOut)
async def journal_stats(user: CurrentUser, clients: ClientsDep, trade_filter: FilterQuery) -> dict[str, Any]:
    stats = await clients.call(
        _new(user, GetJournalStats, filter=trade_filter), subject=JournalRpc.GET_STATS, reply_type=JournalStats
    )
    return public(stats)


@router.get(
    "/export",
    operation_id="exportTrades",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The entries as CSV."}},
)
async def export_trades(user: CurrentUser, clients: ClientsDep, trade_filter: FilterQuery) -> StreamingResponse:
    """Every matching entry as CSV, newest first; fetched from the journal service chunk by chunk."""
    # The first chunk is fetched before answering, so a failing journal service still gives an error status.
    first = await clients.call(
        _new(user, ExportTradesCsv, filter=trade_filter), subject=JournalRpc.EXPORT_CSV, reply_type=TradesCsv
    )

    async def chunks() -> AsyncIterator[str]:
        chunk = first
        yield chunk.csv_text
        while chunk.next_cursor is not None:
            query = _new(user, ExportTradesCsv, filter=trade_filter, cursor=chunk.next_cursor)
            chunk = await clients.call(query, subject=JournalRpc.EXPORT_CSV, reply_type=TradesCsv)
            yield _without_header(chunk.csv_text)

    return StreamingResponse(
        chunks(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="journal.csv"'},
    )


def _without_header(csv_text: str) -> str:
    _, _, rows = csv_text.partition("\n")
    return rows


@router.post(
    "/import",
    operation_id="importTrades",
    response_model=ImportReportOut,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_trades(
    request: Request,
    user: CurrentUser,
    clients: ClientsDep,
    timezone: Annotated[str, Query(min_length=1, max_length=64, description="IANA zone of the CSV's times.")] = "UTC",
) -> dict[str, Any]:
    """Imports a CSV file (the body, `text/csv`); rows imported before are skipped."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("text/csv", "text/plain", "application/csv")):
        raise UnsupportedMediaType("send the CSV file as the body with Content-Type: text/csv")
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge("the CSV file is too large", details={"max_bytes": MAX_IMPORT_BYTES})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequest("the CSV file is not UTF-8") from error
    command = _new(user, ImportTradesCsv, csv_text=text, timezone=timezone)
    return public(await clients.call(command, subject=JournalRpc.IMPORT_CSV, reply_type=ImportReport))


@router.get("/{trade_id}", operation_id="getTrade")
async def get_trade(trade_id: TradeId, user: CurrentUser, clients: ClientsDep) -> TradePublic:
    reply = await clients.call(
        _new(user, GetTrade, trade_id=trade_id), subject=JournalRpc.GET_TRADE, reply_type=TradeReply
    )
    return reply.trade


@router.patch("/{trade_id}", operation_id="updateTrade")
async def update_trade(trade_id: TradeId, body: TradeChanges, user: CurrentUser, clients: ClientsDep) -> TradePublic:
    changes = TradePatch.model_validate(body.model_dump(exclude={"clear"}, exclude_unset=True))
    command = _new(user, UpdateTrade, trade_id=trade_id, changes=changes, clear=body.clear)
    return (await clients.call(command, subject=JournalRpc.UPDATE_TRADE, reply_type=TradeReply)).trade


@router.post("/{trade_id}/close", operation_id="closeTrade")
async def close_trade(trade_id: TradeId, body: TradeExit, user: CurrentUser, clients: ClientsDep) -> TradePublic:
    command = _new(
        user, CloseTrade, trade_id=trade_id, exit_price=body.exit_price, exited_at=body.exited_at, fees=body.fees
    )
    return (await clients.call(command, subject=JournalRpc.CLOSE_TRADE, reply_type=TradeReply)).trade


@router.delete("/{trade_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTrade")
async def delete_trade(trade_id: TradeId, user: CurrentUser, clients: ClientsDep) -> Response:
    await clients.call(
        _new(user, DeleteTrade, trade_id=trade_id), subject=JournalRpc.DELETE_TRADE, reply_type=TradeDeleted
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
