"""The quota ledger in Redis: reservations and per-window counters, changed only through Lua scripts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from chartwise_usage import scripts
from chartwise_usage.batching import BatchSender
from chartwise_usage.plans import Tier
from chartwise_usage.windows import Windows

PREFIX = "chartwise:usage:"
DEADLINES = f"{PREFIX}deadlines"
COUNTER_GRACE = timedelta(days=1)
"""Counters outlive their window by this much, so late commits still land in the window they were reserved in."""
COUNTER_GRACE_MS = int(COUNTER_GRACE.total_seconds() * 1000)
RESERVE_BATCH = 256
"""Most reservations sent in one script call; a bigger batch would hold Redis for longer at a time."""


class CountersNotLoaded(Exception):
    """Redis holds no counters for this user (first use, or Redis lost them): rebuild from the durable ledger."""


def reservation_key(analysis_id: str) -> str:
    return f"{PREFIX}res:{analysis_id}"


def loaded_key(user_id: str) -> str:
    return f"{PREFIX}loaded:{user_id}"


def counter_keys(user_id: str, windows: Windows) -> tuple[str, str, str]:
    return (
        f"{PREFIX}count:{user_id}:day:{windows.day.key}",
        f"{PREFIX}count:{user_id}:month:{windows.month.key}",
        f"{PREFIX}count:{user_id}:total",
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _limit(value: int | None) -> int:
    return -1 if value is None else value


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation record as Redis keeps it: granted (`reserved`, later `committed`/`released`) or `denied`."""

    analysis_id: str
    status: str
    fields: dict[str, str]

    @property
    def user_id(self) -> str:
        return self.fields["user"]

    @property
    def units(self) -> int:
        return int(self.fields["units"])

    @property
    def day_key(self) -> str:
        return self.fields["day"].rsplit(":", 1)[-1]

    @property
    def month_key(self) -> str:
        return self.fields["month"].rsplit(":", 1)[-1]

    @property
    def deadline(self) -> datetime:
        return _from_ms(self.fields["deadline"])

    @property
    def reserved_at(self) -> datetime | None:
        raw = self.fields.get("reserved_at")
        return _from_ms(raw) if raw else None

    @property
    def resets_at(self) -> datetime | None:
        raw = self.fields.get("resets_at")
        return _from_ms(raw) if raw else None


@dataclass(frozen=True, slots=True)
class WindowCount:
    held: int
    used: int


def _pairs(flat: list[str]) -> dict[str, str]:
    """A hash as HGETALL flattens it (the client decodes replies to str)."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


@dataclass(frozen=True, slots=True)
class _ReserveRequest:
    keys: tuple[str, str, str, str, str]
    args: tuple[str | int, ...]


class QuotaLedger:
    def __init__(self, redis: Redis, *, settled_ttl: timedelta) -> None:
        self._redis = redis
        self._settled_ttl_ms = int(settled_ttl.total_seconds() * 1000)
        self._reserve_many = redis.register_script(scripts.RESERVE_MANY)
        self._reservations = BatchSender(self._reserve_batch, max_batch=RESERVE_BATCH)
        self._commit = redis.register_script(scripts.COMMIT)
        self._release = redis.register_script(scripts.RELEASE)
        self._count_orphan = redis.register_script(scripts.COUNT_ORPHAN)
        self._load = redis.register_script(scripts.LOAD)

    async def reserve(
        self,
        *,
        analysis_id: str,
        user_id: str,
        units: int,
        tier: Tier,
        windows: Windows,
        now: datetime,
        deadline: datetime,
    ) -> Reservation:
        """Checks every window and reserves in one step, or returns the verdict given earlier for this analysis."""
        day, month, total = counter_keys(user_id, windows)
        request = _ReserveRequest(
            keys=(reservation_key(analysis_id), day, month, total, loaded_key(user_id)),
            args=(
                analysis_id,
                user_id,
                units,
                _limit(tier.daily),
                _limit(tier.monthly),
                _limit(tier.total),
                _ms(windows.day.end),
                _ms(windows.month.end),
                _ms(deadline),
                _ms(now),
                tier.name,
                tier.max_charts_per_analysis,
            ),
        )
        outcome, flat = await self._reservations.submit(request)
        if outcome == "load":
            raise CountersNotLoaded(user_id)
        fields = _pairs(flat)
        return Reservation(analysis_id, fields["status"], fields)

    async def _reserve_batch(self, requests: list[_ReserveRequest]) -> list[tuple[str, list[str]]]:
        """One script call for every reservation waiting: one round trip, each reservation still atomic."""
        keys: list[str] = [DEADLINES]
        args: list[str | int] = [self._settled_ttl_ms, COUNTER_GRACE_MS]
        for request in requests:
            keys.extend(request.keys)
            args.extend(request.args)
        answers: list[tuple[str, list[str]]] = await self._reserve_many(keys=keys, args=args)
        return answers

    async def commit(self, analysis_id: str) -> tuple[str, Reservation | None]:
        """Turns a reservation into usage: `committed`, `already-<status>`, or `missing` (no reservation)."""
        outcome, flat = await self._commit(
            keys=[reservation_key(analysis_id), DEADLINES], args=[analysis_id, self._settled_ttl_ms]
        )
        if outcome == "missing":
            return str(outcome), None
        fields = _pairs(flat)
        return str(outcome), Reservation(analysis_id, fields["status"], fields)

    async def release(self, analysis_id: str, *, reason: str, now: datetime, only_when_due: bool = False) -> str:
        """Gives a reservation's units back; answers `released`, `not-due`, `missing` or `already-<status>`."""
        result = await self._release(
            keys=[reservation_key(analysis_id), DEADLINES],
            args=[analysis_id, reason, self._settled_ttl_ms, _ms(now), "1" if only_when_due else "0"],
        )
        return str(result)

    async def due(self, now: datetime, *, limit: int) -> list[str]:
        """Analysis ids whose reservations passed their deadline, oldest first."""
        found = await self._redis.zrangebyscore(DEADLINES, "-inf", _ms(now), start=0, num=limit)
        return [str(item) for item in found]

    async def count_orphan(self, *, analysis_id: str, user_id: str, units: int, windows: Windows) -> bool:
        """Counts a completion Redis has no reservation for; False when it was already counted."""
        day, month, total = counter_keys(user_id, windows)
        result = await self._count_orphan(
            keys=[reservation_key(analysis_id), day, month, total, loaded_key(user_id)],
            args=[
                user_id,
                units,
                _ms(windows.day.end),
                _ms(windows.month.end),
                COUNTER_GRACE_MS,
                self._settled_ttl_ms,
            ],
        )
        return bool(result)

    async def is_loaded(self, user_id: str) -> bool:
        return bool(await self._redis.exists(loaded_key(user_id)))

    async def load(self, *, user_id: str, windows: Windows, day: int, month: int, total: int) -> bool:
        """Seeds a user's counters from the durable ledger unless they exist; True when this call seeded them."""
        keys = [*counter_keys(user_id, windows), loaded_key(user_id)]
        args = [
            day,
            month,
            total,
            _ms(windows.day.end),
            _ms(windows.month.end),
            COUNTER_GRACE_MS,
        ]
        return bool(await self._load(keys=keys, args=args))

    async def counts(self, user_id: str, windows: Windows) -> tuple[WindowCount, WindowCount, WindowCount]:
        """Day, month and total figures for the windows given."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in counter_keys(user_id, windows):
                pipe.hmget(key, ["held", "used"])
            replies = await pipe.execute()
        day, month, total = (WindowCount(int(r[0] or 0), int(r[1] or 0)) for r in replies)
        return day, month, total

    async def get(self, analysis_id: str) -> Reservation | None:
        fields = await self._redis.hgetall(reservation_key(analysis_id))
        if not fields:
            return None
        decoded = {str(k): str(v) for k, v in fields.items()}
        return Reservation(analysis_id, decoded["status"], decoded)
