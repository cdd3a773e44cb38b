"""Reserving, committing and releasing quota: the ledger in Redis, made durable by the usage records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chartwise_contracts.usage import QuotaDenial, QuotaWindow, WindowUsage
from chartwise_runtime.errors import Conflict, QuotaExceeded
from chartwise_runtime.logging import get_logger
from chartwise_usage.clock import Clock
from chartwise_usage.directory import PlanDirectory
from chartwise_usage.ledger import CountersNotLoaded, QuotaLedger, Reservation, WindowCount
from chartwise_usage.plans import EffectivePlan
from chartwise_usage.storage import UsageRecords
from chartwise_usage.windows import WindowCache, Windows

log = get_logger(__name__)

EXPIRY_BATCH = 500


@dataclass(frozen=True, slots=True)
class Granted:
    reservation: Reservation
    plan: str
    max_charts_per_analysis: int
    expires_at: datetime


class QuotaService:
    def __init__(
        self,
        *,
        ledger: QuotaLedger,
        directory: PlanDirectory,
        records: UsageRecords,
        clock: Clock,
        reservation_ttl: timedelta,
    ) -> None:
        self._ledger = ledger
        self._directory = directory
        self._records = records
        self._clock = clock
        self._reservation_ttl = reservation_ttl
        self._window_cache = WindowCache()

    async def reserve(self, *, user_id: str, analysis_id: str, units: int) -> Granted:
        """Reserves quota for one analysis, or raises `QuotaExceeded` naming the window that is full."""
        plan = await self._directory.for_quota(user_id)
        now = self._clock.now()
        windows = self._windows(plan, now)

        async def attempt() -> Reservation:
            return await self._ledger.reserve(
                analysis_id=analysis_id,
                user_id=user_id,
                units=units,
                tier=plan.tier,
                windows=windows,
                now=now,
                deadline=now + self._reservation_ttl,
            )

        try:
            reservation = await attempt()
        except CountersNotLoaded:
            await self._load(user_id, windows)
            reservation = await attempt()
        if reservation.user_id != user_id:
            raise Conflict("this analysis id was reserved for another user", details={"analysis_id": analysis_id})
        if reservation.status == "denied":
            raise _denial(reservation)
        fields = reservation.fields
        return Granted(
            reservation=reservation,
            plan=fields["plan"],
            max_charts_per_analysis=int(fields["max_charts"]),
            expires_at=reservation.deadline,
        )

    async def commit(self, *, analysis_id: str, user_id: str, at: datetime) -> str:
        """Counts a completed analysis once: its reservation becomes usage, recorded durably."""
        outcome, reservation = await self._ledger.commit(analysis_id)
        if reservation is None:
            return await self._commit_unknown(analysis_id=analysis_id, user_id=user_id, at=at)
        if reservation.status != "committed":
            log.info("completion of a reservation that cannot be committed", status=reservation.status)
            return reservation.status
        # Written again on a repeated event too: the first delivery may have stopped before this write.
        await self._records.record(
            analysis_id=analysis_id,
            user_id=reservation.user_id,
            units=reservation.units,
            day_key=reservation.day_key,
            month_key=reservation.month_key,
            reserved_at=reservation.reserved_at,
            committed_at=at,
            counted=True,
        )
        return outcome

    async def _commit_unknown(self, *, analysis_id: str, user_id: str, at: datetime) -> str:
        """A completion Redis has no reservation for (its record aged out, or Redis lost it): count it once."""
        plan = await self._directory.for_quota(user_id)
        windows = self._windows(plan, at)
        record = await self._records.record(
            analysis_id=analysis_id,
            user_id=user_id,
            units=1,
            day_key=windows.day.key,
            month_key=windows.month.key,
            reserved_at=None,
            committed_at=at,
            counted=False,
        )
        if record.counted:
            return "already-committed"
        await self._ledger.count_orphan(analysis_id=analysis_id, user_id=user_id, units=record.units, windows=windows)
        await self._records.mark_counted(analysis_id)
        log.warning("counted a completion without a known reservation", analysis_id=analysis_id)
        return "committed"

    async def release(self, *, analysis_id: str, reason: str) -> str:
        return await self._ledger.release(analysis_id, reason=reason, now=self._clock.now())

    async def release_expired(self) -> int:
        """Releases every reservation past its deadline; safe to run on several replicas at once."""
        released = 0
        while True:
            now = self._clock.now()
            due = await self._ledger.due(now, limit=EXPIRY_BATCH)
            for analysis_id in due:
                outcome = await self._ledger.release(analysis_id, reason="expired", now=now, only_when_due=True)
                released += outcome == "released"
            if len(due) < EXPIRY_BATCH:
                break
        if released:
            log.info("released expired reservations", count=released)
        return released

    async def usage(self, user_id: str, plan: EffectivePlan) -> list[WindowUsage]:
        """Today's, this month's and the lifetime figures for a user under the given plan."""
        windows = self._windows(plan, self._clock.now())
        if not await self._ledger.is_loaded(user_id):
            await self._load(user_id, windows)
        day, month, total = await self._ledger.counts(user_id, windows)
        tier = plan.tier
        return [
            _window(QuotaWindow.DAILY, tier.daily, day, windows.day.start, windows.day.end),
            _window(QuotaWindow.MONTHLY, tier.monthly, month, windows.month.start, windows.month.end),
            _window(QuotaWindow.TOTAL, tier.total, total, None, None),
        ]

    async def _load(self, user_id: str, windows: Windows) -> None:
        day, month, total = await self._records.totals(user_id, day_key=windows.day.key, month_key=windows.month.key)
        if await self._ledger.load(user_id=user_id, windows=windows, day=day, month=month, total=total):
            log.info("rebuilt quota counters from the usage records", user_id=user_id, total=total)

    def _windows(self, plan: EffectivePlan, now: datetime) -> Windows:
        return self._window_cache.at(now, time_zone=plan.time_zone, billing_anchor=plan.billing_anchor)


def _window(
    window: QuotaWindow, limit: int | None, count: WindowCount, starts: datetime | None, resets: datetime | None
) -> WindowUsage:
    return WindowUsage(
        window=window,
        limit=limit,
        used=count.used,
        reserved=max(count.held - count.used, 0),
        remaining=None if limit is None else max(limit - count.held, 0),
        starts_at=starts,
        resets_at=resets,
    )


def _denial(reservation: Reservation) -> QuotaExceeded:
    fields = reservation.fields
    denial = QuotaDenial(
        window=QuotaWindow(fields["window"]),
        limit=int(fields["limit"]),
        used=int(fields["used"]),
        requested=reservation.units,
        resets_at=reservation.resets_at,
        plan=fields["plan"],
    )
    return QuotaExceeded(
        f"the {denial.window.value} limit of {denial.limit} analyses is reached",
        details=denial.model_dump(mode="json"),
    )
