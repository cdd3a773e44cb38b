"""Trades as CSV rows: Tradervue's generic columns plus the journal's own, read and written.

One row is one trade. Date, time, symbol, quantity, price, side, commission and fees are the generic
columns Tradervue accepts (price is the entry price; commission and fees add up to the trade's fees);
the exit and the trader's notes come in the journal's extra columns, which the export writes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from chartwise_contracts.journal import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, RowError, TradeInput
from chartwise_journal.money import canonical
from chartwise_journal.trade import Trade, TradeTerms, fingerprint, terms_from_input
from chartwise_journal.validation import field_messages, trade_problems
from chartwise_runtime.errors import InvalidInput

COLUMNS = [
    "date",
    "time",
    "symbol",
    "quantity",
    "price",
    "side",
    "commission",
    "fees",
    "exit_date",
    "exit_time",
    "exit_price",
    "stop_loss",
    "take_profit",
    "strategy",
    "tags",
    "sentiment",
    "notes",
]
REQUIRED = ("date", "symbol", "quantity", "price", "side")
ALIASES = {"comm": "commission", "fee": "fees", "qty": "quantity", "type": "side", "entry_price": "price"}
SIDES = {"buy": "buy", "b": "buy", "bot": "buy", "long": "buy", "sell": "sell", "s": "sell", "sld": "sell"}
SIDES |= {"short": "sell", "ss": "sell"}
TAG_SEPARATOR = ";"
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%Y/%m/%d")
TIME_FORMATS = ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M")
# Where each field of a trade comes from, to report a broken rule against the column the trader wrote.
FIELD_COLUMNS = {
    "symbol": "symbol",
    "side": "side",
    "quantity": "quantity",
    "entry_price": "price",
    "entered_at": "date",
    "exit_price": "exit_price",
    "exited_at": "exit_date",
    "stop_loss": "stop_loss",
    "take_profit": "take_profit",
    "fees": "fees",
    "tags": "tags",
    "strategy": "strategy",
    "sentiment": "sentiment",
    "notes": "notes",
}


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row: int
    terms: TradeTerms
    client_key: str


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    rows: list[ParsedRow]
    errors: list[RowError]


class _RowProblem(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def zone(name: str) -> tzinfo:
    try:
        return UTC if name.upper() == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {name!r}", details={"fields": {"timezone": "unknown"}}) from error


def parse_csv(text: str, *, user_id: str, timezone: str = "UTC") -> ParsedCsv:
    """Every row as trade terms with its idempotency key, or the problems that keep it out."""
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_IMPORT_BYTES} bytes", details={"fields": {"csv_text": "too large"}}
        )
    tz = zone(timezone)
    lines = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(lines, None)
        if header is None:
            raise InvalidInput("the file is empty: a header row is required", details={"fields": {"csv_text": "empty"}})
        columns = _columns(header)
        rows: list[ParsedRow] = []
        errors: list[RowError] = []
        occurrences: dict[str, int] = {}
        for cells in lines:
            if len(rows) + len(errors) >= MAX_IMPORT_ROWS:
                raise InvalidInput(
                    f"the file has more than {MAX_IMPORT_ROWS} rows", details={"fields": {"csv_text": "too many rows"}}
                )
            row_number = lines.line_num
            if not any(cell.strip() for cell in cells):
                continue
            record = {name: cells[i].strip() for i, name in columns.items() if i < len(cells)}
            parsed = _parse_row(row_number, record, tz)
            if isinstance(parsed, TradeTerms):
                digest = fingerprint(parsed)
                # Identical rows in one file are distinct trades: their occurrence number keeps the keys apart.
                seen = occurrences[digest] = occurrences.get(digest, 0) + 1
                rows.append(ParsedRow(row_number, parsed, row_key(user_id, digest, seen)))
            else:
                errors.extend(parsed)
    except csv.Error as error:
        raise InvalidInput(f"the file is not valid CSV near line {lines.line_num}: {error}") from error
    return ParsedCsv(rows, errors)


def row_key(user_id: str, digest: str, occurrence: int) -> str:
    return "csv:" + hashlib.sha256(f"{user_id}\n{digest}\n{occurrence}".encode()).hexdigest()[:48]


def _columns(header: list[str]) -> dict[int, str]:
    columns: dict[int, str] = {}
    for index, raw in enumerate(header):
        name = raw.strip().lower().replace(" ", "_")
        name = ALIASES.get(name, name)
        if name in COLUMNS and name not in columns.values():
            columns[index] = name
    missing = [name for name in REQUIRED if name not in columns.values()]
    if missing:
        raise InvalidInput(
            f"the header lacks required columns: {', '.join(missing)}", details={"fields": {"csv_text": "columns"}}
        )
    return columns


def _parse_row(row: int, record: dict[str, str], tz: tzinfo) -> TradeTerms | list[RowError]:
    errors: list[RowError] = []

    def attempt(parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except _RowProblem as problem:
            errors.append(RowError(row=row, column=problem.column, message=problem.message))
            return None

    fields: dict[str, Any] = {
        "symbol": record.get("symbol", ""),
        "side": attempt(_side, record.get("side", "")),
        "quantity": attempt(_decimal, "quantity", record.get("quantity", "")),
        "entry_price": attempt(_decimal, "price", record.get("price", "")),
        "entered_at": attempt(_moment, "date", record.get("date", ""), record.get("time", ""), tz),
        "fees": attempt(_fees, record),
        "tags": [t for t in record.get("tags", "").split(TAG_SEPARATOR) if t.strip()],
        "strategy": record.get("strategy") or None,
        "sentiment": (record.get("sentiment") or "").lower() or None,
        "notes": record.get("notes", ""),
    }
    for name in ("exit_price", "stop_loss", "take_profit"):
        if record.get(name):
            fields[name] = attempt(_decimal, name, record[name])
    if record.get("exit_date") or record.get("exit_time"):
        exit_date = record.get("exit_date") or record.get("date", "")
        fields["exited_at"] = attempt(_moment, "exit_date", exit_date, record.get("exit_time", ""), tz)
    if errors:
        return errors
    try:
        terms = terms_from_input(TradeInput.model_validate(fields))
    except ValidationError as error:
        messages = field_messages(error)
        return [RowError(row=row, column=_column(f), message=m) for f, m in messages.items()]
    return [RowError(row=row, column=_column(f), message=m) for f, m in trade_problems(terms).items()] or terms


def _column(field: str) -> str | None:
    return FIELD_COLUMNS.get(field.split(".", maxsplit=1)[0])


def _side(raw: str) -> str:
    side = SIDES.get(raw.strip().lower())
    if side is None:
        raise _RowProblem("side", f"unknown side {raw!r}: use buy or sell")
    return side


def _decimal(column: str, raw: str) -> Decimal:
    cleaned = raw.replace(",", "").replace("$", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = Decimal("NaN")
    if not cleaned or not value.is_finite():
        raise _RowProblem(column, f"{raw!r} is not a number")
    return value


def _fees(record: dict[str, str]) -> Decimal:
    total = Decimal(0)
    for column in ("commission", "fees"):
        if record.get(column):
            total += abs(_decimal(column, record[column]))
    return total


def _moment(column: str, day: str, clock: str, tz: tzinfo) -> datetime:
    if not day:
        raise _RowProblem(column, "a date is required")
    parsed_day = _first(day, DATE_FORMATS)
    if parsed_day is None:
        try:
            moment = datetime.fromisoformat(day)
        except ValueError as error:
            raise _RowProblem(column, f"{day!r} is not a date (use YYYY-MM-DD)") from error
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    at = time()
    if clock:
        parsed_time = _first(clock, TIME_FORMATS)
        if parsed_time is None:
            time_column = "exit_time" if column == "exit_date" else "time"
            raise _RowProblem(time_column, f"{clock!r} is not a time (use HH:MM:SS)")
        at = parsed_time.time()
    return datetime.combine(parsed_day.date(), at, tzinfo=tz)


def _first(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def write_csv(trades: list[Trade]) -> str:
    """The trades as CSV with every column, times in UTC; importing it again reproduces the trades."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for trade in trades:
        writer.writerow(_row(trade.terms))
    return buffer.getvalue()


def _row(terms: TradeTerms) -> list[str]:
    exit_day, exit_clock = _split(terms.exited_at) if terms.exited_at is not None else ("", "")
    entry_day, entry_clock = _split(terms.entered_at)
    return [
        entry_day,
        entry_clock,
        terms.symbol,
        canonical(terms.quantity),
        canonical(terms.entry_price),
        str(terms.side),
        "0",
        canonical(terms.fees),
        exit_day,
        exit_clock,
        _text(terms.exit_price),
        _text(terms.stop_loss),
        _text(terms.take_profit),
        terms.strategy or "",
        TAG_SEPARATOR.join(terms.tags),
        str(terms.sentiment or ""),
        terms.notes,
    ]


def _split(moment: datetime) -> tuple[str, str]:
    utc = moment.astimezone(UTC)
    clock = utc.strftime("%H:%M:%S")
    if utc.microsecond:
        clock += f".{utc.microsecond // 1000:03d}"
    return utc.strftime("%Y-%m-%d"), clock


def _text(value: Decimal | None) -> str:
    return canonical(value) if value is not None else ""
