"""Short-lived, single-use tickets to open the notification stream with `EventSource`.

A browser's `EventSource` cannot send an `Authorization` header and a long-lived token must
never travel in a URL. The page asks for a ticket with its access token, then opens
`/api/v1/notifications/stream?ticket=…`; the ticket works once and for a few seconds.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.auth.deps import _actor_from_token, oauth2_scheme
from app.db import SessionDep
from app.errors import Unauthorized, problem_responses
from app.redis import RedisDep, key
from app.routers.common import ApiRoute
from app.scoping import Actor
from app.services.inbox import _require_person

TICKET_SECONDS = 30
_INVALID = "Ticket de conexión no válido, caducado o ya usado"

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=ApiRoute)


class StreamTicket(BaseModel):
    ticket: str
    expires_in: int


def _ticket_key(ticket: str) -> str:
    return key("stream-ticket", ticket)


@router.post(
    "/stream-ticket",
    operation_id="notifications_stream_ticket",
    summary="Ticket para abrir el flujo en directo",
    response_model=StreamTicket,
    responses=problem_responses(401, 403),
)
async def create_ticket(
    session: SessionDep,
    redis: RedisDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> StreamTicket:
    """A single-use ticket, valid for 30 seconds, for `GET /notifications/stream?ticket=`."""
    actor = await _actor_from_token(session, token)
    if actor is None or token is None:
        raise Unauthorized("Se requiere autenticación")
    _require_person(actor)
    ticket = secrets.token_urlsafe(32)
    await redis.set(_ticket_key(ticket), token, ex=TICKET_SECONDS)
    return StreamTicket(ticket=ticket, expires_in=TICKET_SECONDS)


async def get_stream_actor(
    session: SessionDep,
    redis: RedisDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    ticket: Annotated[
        str | None,
        Query(max_length=128, description="Ticket de `POST /notifications/stream-ticket`"),
    ] = None,
) -> Actor:
    """The caller of the stream: a bearer token, or a ticket (consumed on use)."""
    if ticket is not None:
        token = await redis.getdel(_ticket_key(ticket))
        if token is None:
            raise Unauthorized(_INVALID)
    actor = await _actor_from_token(session, token)
    if actor is None:
        raise Unauthorized("Se requiere autenticación")
    return actor


StreamActor = Annotated[Actor, Depends(get_stream_actor)]
