"""The analysis store port and its MongoDB adapter (collection `ChartAnalysis`).

Every state change is one conditional write on the document, so concurrent or repeated runs of the same
analysis cannot move it backwards: a finished analysis is never started, completed or failed again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from chartwise_analysis.clock import stored_time
from chartwise_analysis.cursor import Position
from chartwise_analysis.record import UNFINISHED, ChartAnalysis, StoredChart
from chartwise_contracts.analysis_api import AnalysisResult, AnalysisStatus, Timings, TokenUsage
from chartwise_runtime.mongo import Database, Document

COLLECTION = "ChartAnalysis"
NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]

INDEXES: dict[str, list[IndexModel]] = {
    COLLECTION: [
        # `_id` is left out: the tie-breaker of equal creation times needs no index of its own, and a compound
        # index over `_id` is not portable to every MongoDB-compatible server.
        IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)]),
        # Not unique: a unique index over a field most documents lack is not portable, and 256-bit
        # random tokens do not collide.
        IndexModel([("share_token", ASCENDING)], sparse=True),
    ]
}


class AnalysisStore(Protocol):
    async def insert(self, analysis: ChartAnalysis) -> bool: ...

    async def get(self, analysis_id: str) -> ChartAnalysis | None: ...

    async def get_owned(self, user_id: str, analysis_id: str) -> ChartAnalysis | None: ...

    async def page(self, user_id: str, *, after: Position | None, limit: int) -> list[ChartAnalysis]: ...

    async def rename(self, user_id: str, analysis_id: str, name: str, *, at: datetime) -> ChartAnalysis | None: ...

    async def delete(self, user_id: str, analysis_id: str) -> ChartAnalysis | None: ...

    async def set_share_token(self, user_id: str, analysis_id: str, token: str, *, at: datetime) -> bool: ...

    async def clear_share_token(self, user_id: str, analysis_id: str, *, at: datetime) -> bool: ...

    async def by_share_token(self, token: str) -> ChartAnalysis | None: ...

    async def start_run(self, analysis_id: str, *, attempt: int, at: datetime) -> ChartAnalysis | None: ...

    async def save_charts(self, analysis_id: str, charts: list[StoredChart], *, at: datetime) -> None: ...

    async def complete(
        self,
        analysis_id: str,
        *,
        result: AnalysisResult,
        provider: str,
        model: str,
        usage: TokenUsage,
        timings: Timings,
        at: datetime,
    ) -> bool: ...

    async def fail(self, analysis_id: str, *, reason: str, at: datetime) -> bool: ...


def _load(doc: Document | None) -> ChartAnalysis | None:
    return ChartAnalysis.model_validate(doc) if doc is not None else None


def _after(position: Position) -> Document:
    """Strictly after `position` in (created_at desc, _id desc) order."""
    at = stored_time(position.created_at)
    return {"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": position.analysis_id}}]}


class MongoAnalysisStore:
    def __init__(self, db: Database) -> None:
        self._docs = db[COLLECTION]

    async def insert(self, analysis: ChartAnalysis) -> bool:
        """Stores a new analysis; False when one with its id exists already."""
        try:
            await self._docs.insert_one(analysis.to_document())
        except DuplicateKeyError:
            return False
        return True

    async def get(self, analysis_id: str) -> ChartAnalysis | None:
        return _load(await self._docs.find_one({"_id": analysis_id}))

    async def get_owned(self, user_id: str, analysis_id: str) -> ChartAnalysis | None:
        return _load(await self._docs.find_one({"_id": analysis_id, "user_id": user_id}))

    async def page(self, user_id: str, *, after: Position | None, limit: int) -> list[ChartAnalysis]:
        query: Document = {"user_id": user_id}
        if after is not None:
            query.update(_after(after))
        cursor = self._docs.find(query).sort(NEWEST_FIRST).limit(limit)
        return [ChartAnalysis.model_validate(doc) async for doc in cursor]

    async def rename(self, user_id: str, analysis_id: str, name: str, *, at: datetime) -> ChartAnalysis | None:
        doc = await self._docs.find_one_and_update(
            {"_id": analysis_id, "user_id": user_id},
            {"$set": {"name": name, "updated_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _load(doc)

    async def delete(self, user_id: str, analysis_id: str) -> ChartAnalysis | None:
        return _load(await self._docs.find_one_and_delete({"_id": analysis_id, "user_id": user_id}))

    async def set_share_token(self, user_id: str, analysis_id: str, token: str, *, at: datetime) -> bool:
        """Gives a completed analysis `token` unless it has one already; True when this call set it."""
        result = await self._docs.update_one(
            {
                "_id": analysis_id,
                "user_id": user_id,
                "status": AnalysisStatus.COMPLETED.value,
                "share_token": {"$exists": False},
            },
            {"$set": {"share_token": token, "shared_at": at, "updated_at": at}},
        )
        return result.modified_count == 1

    async def clear_share_token(self, user_id: str, analysis_id: str, *, at: datetime) -> bool:
        result = await self._docs.update_one(
            {"_id": analysis_id, "user_id": user_id, "share_token": {"$exists": True}},
            {"$unset": {"share_token": "", "shared_at": ""}, "$set": {"updated_at": at}},
        )
        return result.modified_count == 1

    async def by_share_token(self, token: str) -> ChartAnalysis | None:
        return _load(await self._docs.find_one({"share_token": token}))

    async def start_run(self, analysis_id: str, *, attempt: int, at: datetime) -> ChartAnalysis | None:
        """Marks an unfinished analysis as processing by this run; None when it is finished or gone."""
        doc = await self._docs.find_one_and_update(
            {"_id": analysis_id, "status": {"$in": list(UNFINISHED)}},
            {
                "$set": {
                    "status": AnalysisStatus.PROCESSING.value,
                    "started_at": at,
                    "updated_at": at,
                    "attempts": attempt,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _load(doc)

    async def save_charts(self, analysis_id: str, charts: list[StoredChart], *, at: datetime) -> None:
        stored = [c.model_dump(exclude_none=True) for c in charts]
        await self._docs.update_one(
            {"_id": analysis_id, "status": {"$in": list(UNFINISHED)}},
            {"$set": {"charts": stored, "updated_at": at}},
        )

    async def complete(
        self,
        analysis_id: str,
        *,
        result: AnalysisResult,
        provider: str,
        model: str,
        usage: TokenUsage,
        timings: Timings,
        at: datetime,
    ) -> bool:
        fields: dict[str, Any] = {
            "status": AnalysisStatus.COMPLETED.value,
            "result": result.model_dump(mode="json"),
            "provider": provider,
            "model": model,
            "usage": usage.model_dump(),
            "timings": timings.model_dump(),
            "completed_at": at,
            "updated_at": at,
        }
        outcome = await self._docs.update_one(
            {"_id": analysis_id, "status": {"$in": list(UNFINISHED)}}, {"$set": fields, "$unset": {"error": ""}}
        )
        return outcome.modified_count == 1

    async def fail(self, analysis_id: str, *, reason: str, at: datetime) -> bool:
        outcome = await self._docs.update_one(
            {"_id": analysis_id, "status": {"$in": list(UNFINISHED)}},
            {"$set": {"status": AnalysisStatus.FAILED.value, "error": reason, "failed_at": at, "updated_at": at}},
        )
        return outcome.modified_count == 1
