"""A short memory of the people calling the API, so that a request need not read its caller's
row every time.

Every request with a person's token needs that person's row: is the account still active, what
role, municipality and área it holds now (a token only says what held when it was issued). The
row read for one request is kept in this process for `OAAA_CALLER_CACHE_SECONDS` (default 2 s;
0 reads it on every request). Any statement of this process that may change a user row (by the
ORM, a Core statement or plain SQL) forgets every remembered caller at once, and again when its
transaction commits, so that a request reading the row in between cannot keep the old version; a
change made by another process (another API process, the command line) is seen within that time
at most. Only active accounts are remembered, and revoked tokens never are: the deny-list is
asked on every request, so a log-out takes effect at once.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import User

# Beyond this many people the memory starts afresh (one process rarely serves so many at once).
MAX_CALLERS = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """What a request needs of its caller's row (`Actor.for_user` reads these attributes)."""

    id: uuid.UUID
    role: str
    email: str
    municipality_id: uuid.UUID | None
    area_id: uuid.UUID | None
    is_active: bool


_COLUMNS = (User.id, User.role, User.email, User.municipality_id, User.area_id, User.is_active)
_callers: dict[uuid.UUID, tuple[float, Caller]] = {}
_clock = time.monotonic


async def get(session: AsyncSession, user_id: uuid.UUID, max_age: float) -> Caller | None:
    """The caller's row as read at most `max_age` seconds ago (None: no such user)."""
    now = _clock()
    if max_age > 0:
        remembered = _callers.get(user_id)
        if remembered is not None and now - remembered[0] < max_age:
            return remembered[1]
    stmt = select(*_COLUMNS).where(User.id == user_id)  # type: ignore[call-overload]
    row = (await session.execute(stmt)).first()
    if row is None:
        _callers.pop(user_id, None)
        return None
    caller = Caller(*row)
    if max_age > 0 and caller.is_active:
        if len(_callers) >= MAX_CALLERS:
            _callers.clear()
        _callers[user_id] = (now, caller)
    else:
        _callers.pop(user_id, None)
    return caller


def forget_all() -> None:
    _callers.clear()


# Any statement of this process that may change a user row, whatever sent it (the ORM, a Core
# statement, plain SQL), forgets every remembered caller when it runs and again when its
# transaction commits, so that no request keeps a version read in between.
_TOUCHED = "oaaa.touched_users"


# The table right after a verb that writes (in a statement of its own or in a CTE).
_WRITES_USERS = re.compile(
    r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?|COPY|ALTER\s+TABLE)"
    r"\s+(?:ONLY\s+)?(?:\w+\.)?\"?user_account\b",
    re.IGNORECASE,
)


# The verdict per statement text: the hot statements are built once per shape, and searching
# the longest of them (a creation's event with its recipients) cost more than the rest of the
# check put together.
_verdicts: dict[str, bool] = {}
MAX_VERDICTS = 2048


def _may_change_users(statement: str) -> bool:
    if "user_account" not in statement:
        return False
    verdict = _verdicts.get(statement)
    if verdict is None:
        if len(_verdicts) >= MAX_VERDICTS:
            _verdicts.clear()
        verdict = _verdicts[statement] = _WRITES_USERS.search(statement) is not None
    return verdict


@event.listens_for(Engine, "before_cursor_execute")
def _on_statement(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
    if _may_change_users(statement):
        forget_all()
        conn.info[_TOUCHED] = True


@event.listens_for(Engine, "commit")
def _on_commit(conn: Connection) -> None:
    if conn.info.pop(_TOUCHED, False):
        forget_all()


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    # A connection lost meanwhile has no `info` left to clear (reading it would reconnect in
    # the middle of the rollback); what its transaction did is undone all the same.
    if not conn.invalidated:
        conn.info.pop(_TOUCHED, None)
