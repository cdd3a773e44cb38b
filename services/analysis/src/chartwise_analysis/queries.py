"""The owner's operations on analyses (read, list, rename, delete, share) and the shared view."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from chartwise_analysis.clock import Clock
from chartwise_analysis.cursor import Position, decode_cursor, encode_cursor
from chartwise_analysis.outbound import EventPublisher
from chartwise_analysis.record import ChartAnalysis, shared_view
from chartwise_analysis.repository import AnalysisStore
from chartwise_contracts.analysis import AnalysisCancelled
from chartwise_contracts.analysis_api import AnalysisStatus, SharedAnalysisView
from chartwise_contracts.envelope import Envelope
from chartwise_runtime.errors import Conflict, NotFound

SHARE_TOKEN_BYTES = 32


def _not_found(analysis_id: str) -> NotFound:
    # The same answer whether the analysis does not exist or belongs to someone else.
    return NotFound(f"analysis {analysis_id} not found", details={"analysis_id": analysis_id})


async def get_analysis(store: AnalysisStore, *, user_id: str, analysis_id: str) -> ChartAnalysis:
    analysis = await store.get_owned(user_id, analysis_id)
    if analysis is None:
        raise _not_found(analysis_id)
    return analysis


async def list_analyses(
    store: AnalysisStore, *, user_id: str, cursor: str | None, limit: int
) -> tuple[list[ChartAnalysis], str | None]:
    """One page, newest first, and the cursor of the next page (None on the last page)."""
    after = decode_cursor(cursor) if cursor is not None else None
    found = await store.page(user_id, after=after, limit=limit + 1)
    items = found[:limit]
    if len(found) <= limit or not items:
        return items, None
    last = items[-1]
    return items, encode_cursor(Position(last.created_at, last.id))


async def rename_analysis(
    store: AnalysisStore, *, user_id: str, analysis_id: str, name: str, clock: Clock
) -> ChartAnalysis:
    analysis = await store.rename(user_id, analysis_id, name.strip() or name, at=clock())
    if analysis is None:
        raise _not_found(analysis_id)
    return analysis


async def delete_analysis(
    store: AnalysisStore, events: EventPublisher, *, user_id: str, analysis_id: str, clock: Clock
) -> bool:
    """Deletes the analysis; True when it was unfinished, and its cancellation was announced.

    The cancellation is published before the document is deleted: if publishing fails, the analysis is still
    there and a retry announces it again (consumers are idempotent), so its quota reservation is never left held.
    """
    current = await get_analysis(store, user_id=user_id, analysis_id=analysis_id)
    if not current.finished:
        await events.publish(
            AnalysisCancelled(
                meta=Envelope(correlation_id=current.correlation_id, actor=user_id),
                analysis_id=analysis_id,
                user_id=user_id,
                reason="deleted by its owner before it finished",
                cancelled_at=clock(),
            )
        )
    # None here means a concurrent delete won: the analysis is gone either way.
    await store.delete(user_id, analysis_id)
    return not current.finished


@dataclass(frozen=True, slots=True)
class Share:
    analysis_id: str
    token: str
    shared_at: datetime


def _share_of(analysis: ChartAnalysis) -> Share | None:
    if analysis.share_token is None:
        return None
    return Share(analysis.id, analysis.share_token, analysis.shared_at or analysis.updated_at)


async def share_analysis(store: AnalysisStore, *, user_id: str, analysis_id: str, clock: Clock) -> Share:
    """Gives a completed analysis an unguessable share token; sharing again keeps the token it has."""
    analysis = await get_analysis(store, user_id=user_id, analysis_id=analysis_id)
    share = _share_of(analysis)
    if share is not None:
        return share
    if analysis.status != AnalysisStatus.COMPLETED:
        raise Conflict(
            f"analysis {analysis_id} is {analysis.status}; only a completed analysis can be shared",
            details={"analysis_id": analysis_id, "status": str(analysis.status)},
        )
    await store.set_share_token(user_id, analysis_id, secrets.token_urlsafe(SHARE_TOKEN_BYTES), at=clock())
    # Read back: of two concurrent shares, the token that was stored is the one both return.
    share = _share_of(await get_analysis(store, user_id=user_id, analysis_id=analysis_id))
    if share is None:
        raise Conflict(f"analysis {analysis_id} changed while it was being shared; try again")
    return share


async def revoke_share(store: AnalysisStore, *, user_id: str, analysis_id: str, clock: Clock) -> bool:
    await get_analysis(store, user_id=user_id, analysis_id=analysis_id)
    return await store.clear_share_token(user_id, analysis_id, at=clock())


async def get_shared(store: AnalysisStore, *, token: str) -> SharedAnalysisView:
    analysis = await store.by_share_token(token)
    if analysis is None or analysis.result is None or analysis.share_token != token:
        raise NotFound("no analysis is shared under this link")
    return shared_view(analysis, analysis.result)
