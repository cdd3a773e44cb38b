"""The owner's operations over request/reply: ownership, newest-first pages, rename, delete, share links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chartwise_analysis.clock import system_clock
from chartwise_analysis.queries import delete_analysis
from chartwise_analysis.record import ChartAnalysis, StoredChart
from chartwise_analysis.repository import INDEXES, MongoAnalysisStore
from chartwise_contracts.analysis import AnalysisCancelled, AnalysisEvent
from chartwise_contracts.analysis_api import (
    AnalysisDeleted,
    AnalysisMetadata,
    AnalysisPage,
    AnalysisReply,
    AnalysisResult,
    AnalysisRpc,
    AnalysisShared,
    AnalysisShareRevoked,
    AnalysisStatus,
    DeleteAnalysis,
    GetAnalysis,
    GetSharedAnalysis,
    ListAnalyses,
    RenameAnalysis,
    RevokeShare,
    ShareAnalysis,
    SharedAnalysisReply,
)
from chartwise_runtime.errors import Conflict, InvalidInput, NotFound
from chartwise_runtime.mongo import ensure_indexes
from tests.integration.analysis.conftest import Service, chart_answer

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def analysis(analysis_id: str, *, user_id: str = "owner", minutes: int = 0, completed: bool = True) -> ChartAnalysis:
    at = T0 + timedelta(minutes=minutes)
    return ChartAnalysis(
        id=analysis_id,
        user_id=user_id,
        name=f"analysis {analysis_id}",
        status=AnalysisStatus.COMPLETED if completed else AnalysisStatus.QUEUED,
        charts=[StoredChart(blob_key="chart_analysis/abc.png", url="https://cdn.example/abc.png")],
        metadata=AnalysisMetadata(strategy_and_criteria="Swing", risk=50),
        created_at=at,
        updated_at=at,
        completed_at=at if completed else None,
        result=AnalysisResult.model_validate(chart_answer()) if completed else None,
    )


@pytest.fixture
async def store(service: Service) -> MongoAnalysisStore:
    await ensure_indexes(service.db, INDEXES)
    return MongoAnalysisStore(service.db)


async def test_an_owner_reads_an_analysis_and_another_user_gets_not_found(
    service: Service, store: MongoAnalysisStore
) -> None:
    await store.insert(analysis("mine"))

    reply = await service.ask(GetAnalysis.new(analysis_id="mine", user_id="owner"), AnalysisRpc.GET, AnalysisReply)
    assert reply.analysis.analysis_id == "mine"
    assert reply.analysis.result.bias == "bullish"
    for message, subject in [
        (GetAnalysis.new(analysis_id="mine", user_id="intruder"), AnalysisRpc.GET),
        (RenameAnalysis.new(analysis_id="mine", user_id="intruder", name="x"), AnalysisRpc.RENAME),
        (DeleteAnalysis.new(analysis_id="mine", user_id="intruder"), AnalysisRpc.DELETE),
        (ShareAnalysis.new(analysis_id="mine", user_id="intruder"), AnalysisRpc.SHARE),
        (RevokeShare.new(analysis_id="mine", user_id="intruder"), AnalysisRpc.REVOKE_SHARE),
    ]:
        with pytest.raises(NotFound):
            await service.ask(message, subject, AnalysisReply)
    assert await store.get_owned("owner", "mine") is not None


async def test_listing_is_newest_first_with_stable_cursor_pages(service: Service, store: MongoAnalysisStore) -> None:
    # Two analyses share a creation time: the id breaks the tie, and no page repeats or skips one.
    for analysis_id, minutes in [("a1", 0), ("a2", 1), ("a3", 2), ("b3", 2), ("a4", 3)]:
        await store.insert(analysis(analysis_id, minutes=minutes))
    await store.insert(analysis("other", user_id="someone-else", minutes=10))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = ListAnalyses.new(user_id="owner", limit=2, cursor=cursor)
        page = await service.ask(query, AnalysisRpc.LIST, AnalysisPage)
        seen += [item.analysis_id for item in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == ["a4", "b3", "a3", "a2", "a1"]
    assert pages == 3


async def test_listing_refuses_a_forged_cursor_and_an_unbounded_limit(service: Service) -> None:
    with pytest.raises(InvalidInput):
        await service.ask(ListAnalyses.new(user_id="owner", cursor="bm90LWEtY3Vyc29y"), AnalysisRpc.LIST, AnalysisPage)
    with pytest.raises(ValueError, match="less than or equal to 100"):
        ListAnalyses.new(user_id="owner", limit=101)


async def test_an_empty_history_lists_as_an_empty_page(service: Service) -> None:
    page = await service.ask(ListAnalyses.new(user_id="newcomer"), AnalysisRpc.LIST, AnalysisPage)

    assert page.items == []
    assert page.next_cursor is None


async def test_rename_changes_the_name_only(service: Service, store: MongoAnalysisStore) -> None:
    await store.insert(analysis("r1"))

    reply = await service.ask(
        RenameAnalysis.new(analysis_id="r1", user_id="owner", name="AAPL daily"), AnalysisRpc.RENAME, AnalysisReply
    )

    assert reply.analysis.name == "AAPL daily"
    stored = await store.get("r1")
    assert stored is not None
    assert stored.name == "AAPL daily"
    assert stored.result == analysis("r1").result


async def test_deleting_an_unfinished_analysis_cancels_it(service: Service, store: MongoAnalysisStore) -> None:
    await store.insert(analysis("done"))
    await store.insert(analysis("waiting", completed=False))

    finished = await service.ask(
        DeleteAnalysis.new(analysis_id="done", user_id="owner"), AnalysisRpc.DELETE, AnalysisDeleted
    )
    pending = await service.ask(
        DeleteAnalysis.new(analysis_id="waiting", user_id="owner"), AnalysisRpc.DELETE, AnalysisDeleted
    )

    assert finished.cancelled is False
    assert pending.cancelled is True
    assert await store.get("done") is None
    assert await store.get("waiting") is None
    [event] = await service.announced("waiting")
    assert isinstance(event, AnalysisCancelled)
    assert await service.events("done") == []
    with pytest.raises(NotFound):
        await service.ask(DeleteAnalysis.new(analysis_id="done", user_id="owner"), AnalysisRpc.DELETE, AnalysisDeleted)


class Unreachable:
    """An event publisher whose broker cannot be reached."""

    async def publish(self, event: AnalysisEvent) -> None:
        raise ConnectionError("broker unreachable")


async def test_a_delete_whose_cancellation_could_not_be_announced_keeps_the_analysis_for_a_retry(
    service: Service, store: MongoAnalysisStore
) -> None:
    await store.insert(analysis("waiting", completed=False))

    with pytest.raises(ConnectionError):
        await delete_analysis(store, Unreachable(), user_id="owner", analysis_id="waiting", clock=system_clock)

    assert await store.get("waiting") is not None
    assert await service.events("waiting") == []
    retried = await service.ask(
        DeleteAnalysis.new(analysis_id="waiting", user_id="owner"), AnalysisRpc.DELETE, AnalysisDeleted
    )
    assert retried.cancelled is True
    assert await store.get("waiting") is None
    [event] = await service.announced("waiting")
    assert isinstance(event, AnalysisCancelled)


async def test_share_token_lifecycle(service: Service, store: MongoAnalysisStore) -> None:
    await store.insert(analysis("s1"))
    share = ShareAnalysis.new(analysis_id="s1", user_id="owner")

    first = await service.ask(share, AnalysisRpc.SHARE, AnalysisShared)
    again = await service.ask(share, AnalysisRpc.SHARE, AnalysisShared)
    shared = await service.ask(GetSharedAnalysis.new(token=first.token), AnalysisRpc.GET_SHARED, SharedAnalysisReply)

    assert again.token == first.token
    assert len(first.token) >= 40
    assert shared.analysis.name == "analysis s1"
    assert shared.analysis.result.bias == "bullish"
    assert "owner" not in shared.model_dump_json()
    owner = await service.ask(GetAnalysis.new(analysis_id="s1", user_id="owner"), AnalysisRpc.GET, AnalysisReply)
    assert owner.analysis.shared is True

    revoked = await service.ask(
        RevokeShare.new(analysis_id="s1", user_id="owner"), AnalysisRpc.REVOKE_SHARE, AnalysisShareRevoked
    )
    assert revoked.revoked is True
    with pytest.raises(NotFound):
        await service.ask(GetSharedAnalysis.new(token=first.token), AnalysisRpc.GET_SHARED, SharedAnalysisReply)
    renewed = await service.ask(share, AnalysisRpc.SHARE, AnalysisShared)
    assert renewed.token != first.token


async def test_only_a_completed_analysis_can_be_shared(service: Service, store: MongoAnalysisStore) -> None:
    await store.insert(analysis("busy", completed=False))

    with pytest.raises(Conflict):
        await service.ask(ShareAnalysis.new(analysis_id="busy", user_id="owner"), AnalysisRpc.SHARE, AnalysisShared)
