"""Idempotency-Key for the integration API: a retried write gets the answer it got first.

For each (integration client, key) the first successful answer is stored in the same
transaction as the write it reports, so a write that rolls back stores nothing. A retry with
the same method, path and body gets that answer back; the same key with another request is
refused (409) and changes nothing. Two simultaneous requests with one key are serialised by a
transaction-level advisory lock: the second waits for the first to commit and then replays its
answer. Keys expire after a day; an expired key is deleted when it is seen again and by the
worker's hourly purge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.errors import Conflict
from app.models.idempotency import IdempotencyRecord

KEY_TTL = timedelta(days=1)
# Printable ASCII without spaces, as most clients generate (UUIDs, ULIDs, hashes).
KEY_PATTERN = r"^[\x21-\x7E]{1,200}$"
REPLAYED_HEADER = "Idempotency-Replayed"
PURGE_BATCH = 5000


class IdempotencyKeyReused(Conflict):
    code = "idempotency-key-reused"
    title = "Clave de idempotencia ya utilizada en otra petición"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of method, path and the body in canonical JSON (key order and whitespace do not
    matter); a body that is not JSON is hashed as sent."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, RecursionError):  # also UnicodeDecodeError, empty or too deep a body
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def _lock(session: AsyncSession, client_id: uuid.UUID, key: str) -> None:
    """Holds the key until the transaction ends: a concurrent retry waits here."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
        {"name": f"idempotency:{client_id}:{key}"},
    )


async def begin(
    session: AsyncSession,
    client_id: uuid.UUID,
    key: str,
    request_hash: str,
    now: datetime | None = None,
) -> StoredResponse | None:
    """Takes the key for this transaction. The stored answer when the key was already used for
    this very request, None when the key is new (or expired); `IdempotencyKeyReused` when it was
    used for a different request."""
    now = now or datetime.now(UTC)
    await _lock(session, client_id, key)
    where = (col(IdempotencyRecord.client_id) == client_id, col(IdempotencyRecord.key) == key)
    row = (
        await session.execute(
            select(
                col(IdempotencyRecord.request_hash),
                col(IdempotencyRecord.status_code),
                col(IdempotencyRecord.response_body),
                col(IdempotencyRecord.expires_at),
            ).where(*where)
        )
    ).first()
    if row is None:
        return None
    stored_hash, status_code, body, expires_at = row
    if expires_at <= now:
        await session.execute(delete(IdempotencyRecord).where(*where))
        return None
    if not hmac.compare_digest(stored_hash, request_hash):
        raise IdempotencyKeyReused(
            "Esta clave de idempotencia ya se usó con otra petición (método, ruta o cuerpo "
            "distintos); use una clave nueva para cada operación"
        )
    return StoredResponse(status_code=status_code, body=body)


async def save(
    session: AsyncSession,
    client_id: uuid.UUID,
    key: str,
    *,
    method: str,
    path: str,
    request_hash: str,
    status_code: int,
    body: Any,
    now: datetime | None = None,
) -> None:
    """Stores the answer in the current transaction (call `begin` first: it holds the lock)."""
    now = now or datetime.now(UTC)
    await session.execute(
        insert(IdempotencyRecord).values(
            client_id=client_id,
            key=key,
            method=method.upper()[:8],
            path=path[:500],
            request_hash=request_hash,
            status_code=status_code,
            response_body=body,
            created_at=now,
            expires_at=now + KEY_TTL,
        )
    )


async def purge_expired(
    session: AsyncSession, now: datetime | None = None, batch: int = PURGE_BATCH
) -> int:
    """Deletes up to `batch` expired keys (oldest first); returns how many."""
    now = now or datetime.now(UTC)
    expired = (
        select(col(IdempotencyRecord.client_id), col(IdempotencyRecord.key))
        .where(col(IdempotencyRecord.expires_at) <= now)
        .order_by(col(IdempotencyRecord.expires_at))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(IdempotencyRecord)
        .where(tuple_(col(IdempotencyRecord.client_id), col(IdempotencyRecord.key)).in_(expired))
        .returning(col(IdempotencyRecord.key))
    )
    return len(result.all())


async def purge_expired_keys(ctx: dict[str, Any]) -> int:
    """Worker job: deletes every expired idempotency key, one transaction per batch."""
    total = 0
    now = datetime.now(UTC)
    while True:
        async with ctx["sessionmaker"]() as session:
            deleted = await purge_expired(session, now)
            await session.commit()
        total += deleted
        if deleted < PURGE_BATCH:
            return total
