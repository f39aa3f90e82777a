"""CSV that a spreadsheet opens safely: formula-looking cells escaped, streamed line by line."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from app.core.time import MADRID

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: object) -> str:
    """One cell: instants in Europe/Madrid, text that a spreadsheet would run as a formula
    (starting with = + - @, tab or carriage return) prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(MADRID).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def line(cells: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe(c) for c in cells])
    return buffer.getvalue()


def render(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    return line(header) + "".join(line(r) for r in rows)


async def stream(
    header: Sequence[str], rows: AsyncIterator[Sequence[object]]
) -> AsyncIterator[bytes]:
    """The header (with a UTF-8 byte-order mark, so spreadsheets read the accents), then rows
    in batches as they arrive from the database."""
    yield ("\ufeff" + line(header)).encode()
    batch: list[str] = []
    async for row in rows:
        batch.append(line(row))
        if len(batch) >= 500:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()
