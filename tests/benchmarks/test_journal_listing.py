"""Journal listing with 100,000 entries of one user: first page, deep cursor page, filtered page, numbered page.

Entries are built by the service's own constructor (`new_trade`, the path of an added or imported entry) and
stored through `MongoTradeStore.insert_many`, so documents and indexes are exactly what the service writes.
Listings go through the service's use cases (`list_trades`, `list_trades_by_page`) on the repository: all
the journal does for a `list-trades` request except the request/reply hop. Each listing is repeated up to
`REPEATS` times within a time budget, so a slow server still finishes in a few minutes (and says so: the
number of samples is in the table). Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chartwise_contracts.journal import TradeFilter, TradeInput
from chartwise_devtools.servers import Endpoints
from chartwise_journal import service
from chartwise_journal.cursor import Position, encode_cursor
from chartwise_journal.repository import COLLECTION, INDEXES, NEWEST_FIRST, MongoTradeStore
from chartwise_journal.trade import Trade, terms_from_input
from chartwise_runtime.mongo import Database, ensure_indexes
from tests.benchmarks.report import write_section

SECTION = "## Journal: listing with 100,000 entries"

USER = "bench-trader"
ENTRIES = 100_000
OTHER_USERS = 20
OTHER_ENTRIES_EACH = 100
CHUNK = 2_000
PER_PAGE = 50
DEEP_PAGE = 100
NUMBERED_PAGE = 1_000
REPEATS = 30
MIN_REPEATS = 2
LISTING_BUDGET_S = 10.0
"""Time one listing may take to be repeated; at least `MIN_REPEATS` samples are taken whatever it costs."""
SLOW_S = 1.0
"""A call slower than this has nothing to warm up: the warm-up call counts as a sample."""
WALK_BUDGET_S = 5.0
"""Time for following the cursor chain page by page; beyond it the deep page's cursor is computed instead."""
SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "EURUSD", "GBPUSD", "BTCUSD", "ES", "NQ")
STRATEGIES = ("breakout", "pullback", "mean reversion", None)
START = datetime(2024, 1, 1, tzinfo=UTC)
SPACING = timedelta(minutes=7)
"""One entry every 7 minutes: 100,000 entries span about 16 months, each at its own time."""


def _input(i: int) -> TradeInput:
    """The i-th entry of a journal: a mix of symbols, sides, open and closed trades, stops, tags and strategies."""
    entry = Decimal(100 + i % 50)
    buy = i % 3 != 0
    entered_at = START + i * SPACING
    values: dict[str, Any] = {
        "symbol": SYMBOLS[i % len(SYMBOLS)],
        "side": "buy" if buy else "sell",
        "quantity": Decimal(1 + i % 10),
        "entry_price": entry,
        "entered_at": entered_at,
        "stop_loss": entry - 2 if buy else entry + 2,
        "fees": Decimal("1.25"),
        "tags": ["bench", f"week-{i % 52}"],
        "strategy": STRATEGIES[i % len(STRATEGIES)],
        "notes": "entered on the retest of the prior high",
    }
    if i % 4 != 0:
        values["exit_price"] = entry + Decimal(i % 7 - 3)
        values["exited_at"] = entered_at + timedelta(hours=2)
    return TradeInput.model_validate(values)


async def _fill(store: MongoTradeStore, user_id: str, count: int) -> list[str]:
    """Stores `count` entries of `user_id`; returns their ids, oldest first."""
    now = datetime.now(UTC)
    ids: list[str] = []
    for start in range(0, count, CHUNK):
        trades = [
            service.new_trade(user_id=user_id, client_key=f"bench:{i}", terms=terms_from_input(_input(i)), now=now)
            for i in range(start, min(start + CHUNK, count))
        ]
        outcome = await store.insert_many(trades)
        assert not outcome.duplicate_keys
        ids += [t.id for t in trades]
    return ids


@dataclass(frozen=True)
class Timing:
    name: str
    samples: list[float]
    """Seconds per call."""
    items: list[Trade]
    """What the last call returned."""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95(self) -> str:
        """The 95th percentile, when there are enough samples for one to mean anything."""
        if len(self.samples) < 20:
            return "n/a"
        return f"{statistics.quantiles(self.samples, n=20, method='inclusive')[18] * 1000:,.1f}"

    @property
    def max_ms(self) -> float:
        return max(self.samples) * 1000


async def _time(name: str, listing: Callable[[], Awaitable[list[Trade]]]) -> Timing:
    started = time.perf_counter()
    items = await listing()  # warm-up: the first use of a query shape
    warm_up = time.perf_counter() - started
    expected = len(items)
    samples = [warm_up] if warm_up > SLOW_S else []
    while len(samples) < REPEATS and (len(samples) < MIN_REPEATS or sum(samples) < LISTING_BUDGET_S):
        started = time.perf_counter()
        items = await listing()
        samples.append(time.perf_counter() - started)
        assert len(items) == expected
    return Timing(name, samples, items)


def _plan(explained: dict[str, Any]) -> str:
    """The winning plan's stages and index names (MongoDB), or its details (the SQLite-backed server)."""
    found: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, dict):
            for key in ("stage", "indexName", "detail"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(explained.get("queryPlanner", {}).get("winningPlan"))
    return " > ".join(dict.fromkeys(found)) or "not reported"


async def _server(db: Database, endpoints: Endpoints) -> str:
    info = await db.client.admin.command("buildInfo")
    version = info.get("version", "?")
    if endpoints.mongo_source == "local":
        return (
            f"the nx-27017 MongoDB wire server on SQLite (answers as version {version}), in a process of its own, "
            "with neosqlite's Python query path that the project's launcher switches on"
        )
    return f"MongoDB {version} ({endpoints.mongo_source})"


def _cursor_after(ids: list[str], newest_first_index: int) -> str:
    """The cursor a page ending at the `newest_first_index`-th newest entry hands out (entry times are distinct)."""
    i = len(ids) - 1 - newest_first_index
    return encode_cursor(Position(START + i * SPACING, ids[i]))


@pytest.mark.benchmark
@pytest.mark.timeout(600)
async def test_listing_of_a_user_with_100k_entries(mongo_db: Database, servers: Endpoints) -> None:
    load = os.getloadavg()[0]
    await ensure_indexes(mongo_db, INDEXES)
    store = MongoTradeStore(mongo_db)

    started = time.perf_counter()
    ids = await _fill(store, USER, ENTRIES)
    fill_s = time.perf_counter() - started
    for other in range(OTHER_USERS):
        await _fill(store, f"other-{other}", OTHER_ENTRIES_EACH)
    assert await mongo_db[COLLECTION].count_documents({}) == ENTRIES + OTHER_USERS * OTHER_ENTRIES_EACH
    everything = TradeFilter()

    async def listing(cursor: str | None, filter: TradeFilter = everything) -> tuple[list[Trade], str | None]:
        return await service.list_trades(store, user_id=USER, filter=filter, cursor=cursor, limit=PER_PAGE)

    # Follow the cursor chain page by page as a client would, as far as the budget allows; each cursor must be
    # the one computed from the stored entries, so the deep page's cursor can be computed when the walk stops.
    walk: list[float] = []
    cursor: str | None = None
    while len(walk) < DEEP_PAGE - 1 and sum(walk) < WALK_BUDGET_S:
        step = time.perf_counter()
        _, cursor = await listing(cursor)
        walk.append(time.perf_counter() - step)
        assert cursor == _cursor_after(ids, len(walk) * PER_PAGE - 1)
    deep_cursor = _cursor_after(ids, (DEEP_PAGE - 1) * PER_PAGE - 1)
    newest = START + (ENTRIES - 1) * SPACING
    window = TradeFilter(
        symbol="nvda", entered_from=newest - timedelta(days=200), entered_to=newest - timedelta(days=170)
    )

    async def first_page() -> list[Trade]:
        return (await listing(None))[0]

    async def deep_page() -> list[Trade]:
        return (await listing(deep_cursor))[0]

    async def filtered_page() -> list[Trade]:
        return (await listing(None, window))[0]

    async def numbered_page() -> list[Trade]:
        items, _ = await service.list_trades_by_page(
            store, user_id=USER, filter=everything, page=NUMBERED_PAGE, per_page=PER_PAGE
        )
        return items

    first = await _time("first page (newest 50)", first_page)
    deep = await _time(f"cursor page {DEEP_PAGE}", deep_page)
    filtered = await _time("symbol + 30-day window, first page", filtered_page)
    numbered = await _time(
        f"`page={NUMBERED_PAGE}`, `per_page={PER_PAGE}` (skips {(NUMBERED_PAGE - 1) * PER_PAGE:,})", numbered_page
    )
    timings = [first, deep, filtered, numbered]

    # Each listing returned the right slice of the journal, so the figures time real answers.
    def times(timing: Timing) -> list[datetime]:
        return [t.terms.entered_at for t in timing.items]

    assert times(first) == [newest - k * SPACING for k in range(PER_PAGE)]
    assert times(deep) == [newest - ((DEEP_PAGE - 1) * PER_PAGE + k) * SPACING for k in range(PER_PAGE)]
    assert times(numbered) == [newest - ((NUMBERED_PAGE - 1) * PER_PAGE + k) * SPACING for k in range(PER_PAGE)]
    assert len(filtered.items) == PER_PAGE
    assert all(t.terms.symbol == "NVDA" for t in filtered.items)
    assert window.entered_from is not None
    assert window.entered_to is not None
    assert all(window.entered_from <= at < window.entered_to for at in times(filtered))

    server = await _server(mongo_db, servers)
    query = mongo_db[COLLECTION].find({"user_id": USER}).sort(NEWEST_FIRST).limit(PER_PAGE + 1)
    plan = _plan(await query.explain())
    walk_ms = sorted(s * 1000 for s in walk)
    walked = len(walk)
    deep_note = (
        f"Page {DEEP_PAGE} is reached by following {walked} cursors from the first page."
        if walked == DEEP_PAGE - 1
        else f"Following the cursor chain page by page reached page {walked + 1} within {WALK_BUDGET_S:g} s; the "
        f"cursor of page {DEEP_PAGE} is the one the chain hands out (every walked cursor was checked to equal the "
        f"one computed from the stored entries), computed the same way."
    )
    rows = "".join(
        f"| {t.name} | {len(t.samples)} | {t.median_ms:,.1f} | {t.p95} | {t.max_ms:,.1f} |\n" for t in timings
    )
    print(  # noqa: T201 - the benchmark's report
        f"\njournal listing on {server}: stored {ENTRIES} in {fill_s:.1f} s; "
        + "; ".join(f"{t.name}: median {t.median_ms:,.1f} ms over {len(t.samples)}" for t in timings)
        + f"; cursor walk {walked} pages, median {statistics.median(walk_ms):,.1f} ms"
    )
    write_section(
        SECTION,
        f"{SECTION}\n\n"
        f"One user with {ENTRIES:,} entries (10 symbols, one entry every 7 minutes over about 16 months, three "
        f"quarters closed) and {OTHER_USERS} other users with {OTHER_ENTRIES_EACH} each, built by the service's "
        f"`new_trade` and stored by `MongoTradeStore.insert_many` in chunks of {CHUNK:,}, with the service's "
        f"indexes. Each listing goes through the service's `list_trades` / `list_trades_by_page` (query, sort, "
        f"decoding into entries; not the request/reply hop), {PER_PAGE} per page, after one warm-up call (which "
        f"counts as a sample when it takes over {SLOW_S:g} s), repeated up to {REPEATS} times within "
        f"{LISTING_BUDGET_S:g} s (at least {MIN_REPEATS}; p95 only from 20 samples on). Server: {server}. "
        f"Measured on {datetime.now(UTC):%Y-%m-%d}, one-minute load average {load:.1f} on a 2-core machine shared "
        "with other work.\n\n"
        f"Storing the {ENTRIES:,} entries took {fill_s:.1f} s ({ENTRIES / fill_s:,.0f} entries/s).\n\n"
        "| listing | samples | median (ms) | p95 (ms) | max (ms) |\n"
        "|---|---:|---:|---:|---:|\n"
        f"{rows}\n"
        f"{deep_note} Walking the chain took a median of {statistics.median(walk_ms):,.1f} ms per page (slowest "
        f"{walk_ms[-1]:,.1f} ms). The server's plan for the first page's query (`explain`): {plan}.\n",
    )
