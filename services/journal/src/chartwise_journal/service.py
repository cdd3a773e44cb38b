"""The journal's use cases, each scoped to the entry's owner; handlers and tests call these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from chartwise_contracts import new_id, utcnow
from chartwise_contracts.journal import (
    ClearableField,
    RowError,
    TradeFilter,
    TradeInput,
    TradePatch,
)
from chartwise_journal.csv_format import parse_csv, write_csv
from chartwise_journal.cursor import Position, decode_cursor, encode_cursor
from chartwise_journal.repository import TradeStore
from chartwise_journal.stats import StatsFigures, compute_stats
from chartwise_journal.trade import (
    Trade,
    TradeTerms,
    apply_patch,
    derive,
    fingerprint,
    terms_from_input,
    to_stored_time,
)
from chartwise_journal.validation import ensure_valid
from chartwise_runtime.errors import Conflict, InvalidInput, NotFound
from chartwise_runtime.logging import get_logger

Clock = Callable[[], datetime]
IMPORT_BATCH = 1000
UPDATE_ATTEMPTS = 3

log = get_logger(__name__)


def _not_found(trade_id: str) -> NotFound:
    return NotFound(f"trade {trade_id} not found", details={"trade_id": trade_id})


def new_trade(*, user_id: str, client_key: str, terms: TradeTerms, now: datetime) -> Trade:
    ensure_valid(terms)
    stamp = to_stored_time(now)
    return Trade(
        id=new_id(),
        user_id=user_id,
        client_key=client_key,
        terms=terms,
        derived=derive(terms),
        request_hash=fingerprint(terms),
        created_at=stamp,
        updated_at=stamp,
    )


async def add_trade(
    store: TradeStore, *, user_id: str, client_key: str, data: TradeInput, clock: Clock = utcnow
) -> tuple[Trade, bool]:
    """The entry stored under `client_key`, and whether this call created it."""
    trade = new_trade(user_id=user_id, client_key=client_key, terms=terms_from_input(data), now=clock())
    if await store.insert(trade):
        log.info("trade added", trade_id=trade.id, symbol=trade.terms.symbol)
        return trade, True
    existing = await store.by_key(user_id, client_key)
    if existing is None:  # deleted between our insert and this read: the key is free again
        return await add_trade(store, user_id=user_id, client_key=client_key, data=data, clock=clock)
    if existing.request_hash != trade.request_hash:
        raise Conflict(
            "this client key was already used for a different trade",
            details={"client_key": client_key, "trade_id": existing.id},
        )
    return existing, False


async def get_trade(store: TradeStore, *, user_id: str, trade_id: str) -> Trade:
    trade = await store.get(user_id, trade_id)
    if trade is None:
        raise _not_found(trade_id)
    return trade


async def _change(
    store: TradeStore, *, user_id: str, trade_id: str, change: Callable[[Trade], Trade | None], clock: Clock
) -> Trade:
    """Applies `change` with optimistic concurrency; `change` answers None when nothing is to be written."""
    for _ in range(UPDATE_ATTEMPTS):
        current = await get_trade(store, user_id=user_id, trade_id=trade_id)
        changed = change(current)
        if changed is None:
            return current
        ensure_valid(changed.terms)
        updated = replace(
            changed,
            derived=derive(changed.terms),
            updated_at=to_stored_time(clock()),
            version=current.version + 1,
        )
        if await store.replace(updated, expected_version=current.version):
            return updated
    raise Conflict("the trade kept changing while being updated; try again", details={"trade_id": trade_id})


async def update_trade(
    store: TradeStore,
    *,
    user_id: str,
    trade_id: str,
    patch: TradePatch,
    clear: list[ClearableField],
    clock: Clock = utcnow,
) -> Trade:
    def change(current: Trade) -> Trade | None:
        terms = apply_patch(current.terms, patch, clear)
        return None if terms == current.terms else replace(current, terms=terms)

    return await _change(store, user_id=user_id, trade_id=trade_id, change=change, clock=clock)


async def close_trade(
    store: TradeStore,
    *,
    user_id: str,
    trade_id: str,
    exit_price: Decimal,
    exited_at: datetime,
    fees: Decimal | None,
    clock: Clock = utcnow,
) -> Trade:
    """Closes an open trade; closing it again with the same exit is a no-op, with another exit a conflict."""
    at = to_stored_time(exited_at)

    def change(current: Trade) -> Trade | None:
        terms = current.terms
        same_fees = fees is None or fees == terms.fees
        if terms.exit_price is not None:
            if terms.exit_price == exit_price and terms.exited_at == at and same_fees:
                return None
            raise Conflict("the trade is already closed with another exit", details={"trade_id": trade_id})
        closed = replace(terms, exit_price=exit_price, exited_at=at, fees=terms.fees if fees is None else fees)
        return replace(current, terms=closed)

    return await _change(store, user_id=user_id, trade_id=trade_id, change=change, clock=clock)


async def delete_trade(store: TradeStore, *, user_id: str, trade_id: str) -> None:
    if not await store.delete(user_id, trade_id):
        raise _not_found(trade_id)
    log.info("trade deleted", trade_id=trade_id)


def _position(trade: Trade) -> Position:
    return Position(trade.terms.entered_at, trade.id)


async def list_trades(
    store: TradeStore, *, user_id: str, filter: TradeFilter, cursor: str | None, limit: int
) -> tuple[list[Trade], str | None]:
    """One page, newest first, and the cursor of the next page (None after the last one)."""
    _check_window(filter)
    after = decode_cursor(cursor) if cursor else None
    found = await store.page(user_id, filter, after=after, limit=limit + 1)
    items = found[:limit]
    more = len(found) > limit
    return items, encode_cursor(_position(items[-1])) if more and items else None


async def list_trades_by_page(
    store: TradeStore, *, user_id: str, filter: TradeFilter, page: int, per_page: int
) -> tuple[list[Trade], str | None]:
    """Numbered pages for older clients; a page past the end is empty."""
    _check_window(filter)
    found = await store.page(user_id, filter, after=None, limit=per_page + 1, skip=(page - 1) * per_page)
    items = found[:per_page]
    return items, encode_cursor(_position(items[-1])) if len(found) > per_page and items else None


def _check_window(filter: TradeFilter) -> None:
    if filter.entered_from and filter.entered_to and filter.entered_from >= filter.entered_to:
        raise InvalidInput(
            "entered_from must be before entered_to",
            details={"fields": {"filter.entered_to": "must be after entered_from"}},
        )


async def journal_stats(store: TradeStore, *, user_id: str, filter: TradeFilter) -> StatsFigures:
    _check_window(filter)
    return compute_stats([trade async for trade in store.matching(user_id, filter)])


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    imported: list[Trade]
    skipped_duplicates: int
    row_errors: list[RowError]


async def import_csv(
    store: TradeStore, *, user_id: str, csv_text: str, timezone: str, clock: Clock = utcnow
) -> ImportOutcome:
    """Adds each valid row not imported before; rows with problems are reported and left out."""
    parsed = parse_csv(csv_text, user_id=user_id, timezone=timezone)
    now = clock()
    imported: list[Trade] = []
    skipped = 0
    for start in range(0, len(parsed.rows), IMPORT_BATCH):
        batch = parsed.rows[start : start + IMPORT_BATCH]
        known = await store.existing_keys(user_id, [row.client_key for row in batch])
        fresh = [
            new_trade(user_id=user_id, client_key=row.client_key, terms=row.terms, now=now)
            for row in batch
            if row.client_key not in known
        ]
        outcome = await store.insert_many(fresh)
        imported.extend(outcome.inserted)
        skipped += len(known) + len(outcome.duplicate_keys)
    log.info("trades imported", imported=len(imported), skipped=skipped, row_errors=len(parsed.errors))
    return ImportOutcome(imported, skipped, parsed.errors)


async def export_csv(
    store: TradeStore, *, user_id: str, filter: TradeFilter, cursor: str | None, limit: int
) -> tuple[str, int, str | None]:
    """A chunk of the journal as CSV, its row count and the cursor of the next chunk."""
    trades, next_cursor = await list_trades(store, user_id=user_id, filter=filter, cursor=cursor, limit=limit)
    return write_csv(trades), len(trades), next_cursor
