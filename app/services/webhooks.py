"""Webhook subscriptions for integrations and their signed payloads (Standard Webhooks).

Every delivery is one HTTP POST of a JSON body signed with HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}` with the subscription's secret (`whsec_<base64>`),
carried in the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. The
`webhook-id` is the delivery's own id, so it is the same on every retry and receivers can
deduplicate by it.

Admins manage every subscription (optionally bound to one área); an integration client manages
only its own, which always carry its id and its área.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, crud, netguard
from app.core.config import get_settings
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.models.audit import ActorType
from app.models.notification import (
    DeliveryStatus,
    NotificationEvent,
    NotificationKind,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.schemas.problems import FieldError
from app.schemas.webhooks import WebhookSubscriptionCreate, WebhookSubscriptionUpdate
from app.services.notifications import outbox

ENTITY = "webhook_subscription"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
# Receivers should refuse messages whose timestamp is further than this from their clock.
DEFAULT_TOLERANCE_SECONDS = 300


# ---- signing ----------------------------------------------------------------------------


def generate_secret() -> str:
    """A new signing secret in Standard Webhooks form: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_`."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not valid base64 after 'whsec_'") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{msg_id}.{timestamp}.{body}`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


class WebhookVerificationError(Exception):
    """The message was not signed with this secret, or its timestamp is out of tolerance."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Checks a received message; raises `WebhookVerificationError` unless it is authentic and
    recent. `webhook-signature` may hold several space-separated signatures (key rotation)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    raw_ts = lowered.get("webhook-timestamp")
    raw_sigs = lowered.get("webhook-signature")
    if not msg_id or not raw_ts or not raw_sigs:
        raise WebhookVerificationError("missing webhook headers")
    try:
        timestamp = int(raw_ts)
    except ValueError as exc:
        raise WebhookVerificationError("invalid webhook-timestamp") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp outside the tolerance")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in raw_sigs.split():
        if candidate.startswith(f"{SIGNATURE_VERSION},") and hmac.compare_digest(
            candidate.encode(), expected
        ):
            return
    raise WebhookVerificationError("no matching signature")


def signed_headers(
    secret: str,
    msg_id: str,
    body: bytes,
    timestamp: int,
    *,
    previous_secrets: Sequence[str] = (),
) -> dict[str, str]:
    """The headers of one attempt. While a rotated-out secret is still valid its signature
    follows the current one in `webhook-signature`, space-separated (Standard Webhooks)."""
    signatures = [sign(s, msg_id, timestamp, body) for s in (secret, *previous_secrets)]
    return {
        "content-type": "application/json",
        "user-agent": "OAAA-Webhooks/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def absolute_link(link: str | None) -> str | None:
    """A feed link made absolute with `public_base_url` (links are stored as paths)."""
    if not link:
        return None
    if link.startswith(("http://", "https://")):
        return link
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}/{link.lstrip('/')}"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def event_payload(event: NotificationEvent) -> dict[str, Any]:
    """The JSON document a subscriber receives (the same for every retry)."""
    return {
        "type": event.kind,
        "timestamp": _iso(event.occurred_at),
        "data": {
            "id": event.id,
            "kind": event.kind,
            "title": event.title,
            "body": event.body,
            "link": absolute_link(event.link),
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "municipality_id": str(event.municipality_id) if event.municipality_id else None,
            "area_id": str(event.area_id) if event.area_id else None,
            "occurred_at": _iso(event.occurred_at),
            "payload": outbox.system_payload(event.payload),
        },
    }


def encode_body(event: NotificationEvent) -> bytes:
    return json.dumps(event_payload(event), ensure_ascii=False, separators=(",", ":")).encode()


# ---- API shapes ---------------------------------------------------------------------------


# ---- subscriptions ------------------------------------------------------------------------


HIDDEN = frozenset({"secret", "previous_secret"})


def _snapshot(sub: WebhookSubscription) -> dict[str, Any]:
    return {k: v for k, v in audit.snapshot(sub).items() if k not in HIDDEN}


def _check_destination(url: str) -> None:
    """422 naming `url` when the destination is refused (see `core.netguard`)."""
    reason = netguard.url_refusal(url)
    if reason is None:
        return
    message = f"Destino de webhook no permitido: {reason}"
    raise UnprocessableEntity(
        message,
        errors=[
            FieldError(loc=["body", "url"], pointer="/url", message=reason, code="destination")
        ],
    )


def _kinds(values: list[NotificationKind]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _area_for(actor: Actor, requested: uuid.UUID | None) -> uuid.UUID | None:
    """An integration's subscriptions are bound to its own área; admins choose (None: all)."""
    if actor.kind != ActorType.integration:
        return requested
    if requested is not None and requested != actor.area_id:
        message = "Una integración solo puede suscribirse a los eventos de su propia área"
        raise UnprocessableEntity(
            message,
            errors=[
                FieldError(
                    loc=["body", "area_id"], pointer="/area_id", message=message, code="area"
                )
            ],
        )
    return actor.area_id


async def list_subscriptions(
    session: AsyncSession, actor: Actor, params: PageParams
) -> tuple[list[WebhookSubscription], str | None]:
    stmt = select(WebhookSubscription).where(visible(WebhookSubscription, actor))
    keys: list[Any] = [WebhookSubscription.created_at, WebhookSubscription.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


async def get_subscription(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID
) -> WebhookSubscription:
    return await get_visible(session, WebhookSubscription, subscription_id, actor)


async def create_subscription(
    session: AsyncSession, actor: Actor, data: WebhookSubscriptionCreate
) -> tuple[WebhookSubscription, str]:
    _check_destination(data.url)
    secret = generate_secret()
    sub = WebhookSubscription(
        integration_client_id=actor.id if actor.kind == ActorType.integration else None,
        area_id=_area_for(actor, data.area_id),
        url=data.url,
        description=data.description,
        event_types=_kinds(data.event_types),
        is_active=data.is_active,
        secret=secret,
    )
    await crud.create(session, actor, sub, ENTITY, hidden=set(HIDDEN))
    return sub, secret


async def update_subscription(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    data: WebhookSubscriptionUpdate,
) -> WebhookSubscription:
    sub = await get_subscription(session, actor, subscription_id)
    patch = data.model_dump(exclude_unset=True)
    if "area_id" in patch:
        patch["area_id"] = _area_for(actor, patch["area_id"])
    if patch.get("event_types") is not None:
        patch["event_types"] = _kinds(patch["event_types"])
    for field in ("url", "event_types", "is_active"):
        if field in patch and patch[field] is None:
            raise UnprocessableEntity(
                f"El campo «{field}» no puede ser nulo",
                errors=[
                    FieldError(
                        loc=["body", field],
                        pointer=f"/{field}",
                        message="no puede ser nulo",
                        code="null",
                    )
                ],
            )
    for hidden in HIDDEN:
        patch.pop(hidden, None)
    if patch.get("url") is not None:
        _check_destination(patch["url"])
    return await crud.update(session, actor, sub, patch, ENTITY)


async def delete_subscription(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID
) -> None:
    sub = await get_subscription(session, actor, subscription_id)
    before = _snapshot(sub)
    await session.delete(sub)
    await crud.flush(session)
    await audit.record(session, actor, f"{ENTITY}.delete", ENTITY, subscription_id, before)


async def rotate_secret(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID
) -> tuple[WebhookSubscription, str]:
    """A new signing secret. The one it replaces keeps signing (beside the new one) for
    `OAAA_WEBHOOK_SECRET_OVERLAP_HOURS`; a secret older than that is dropped."""
    sub = await get_subscription(session, actor, subscription_id)
    now = datetime.now(UTC)
    overlap = timedelta(hours=get_settings().webhook_secret_overlap_hours)
    secret = generate_secret()
    if overlap > timedelta(0):
        sub.previous_secret = sub.secret
        sub.previous_secret_valid_until = now + overlap
    else:
        sub.previous_secret = None
        sub.previous_secret_valid_until = None
    sub.secret = secret
    sub.updated_at = now
    await crud.flush(session)
    until = audit.jsonable(sub.previous_secret_valid_until)
    await audit.record(
        session,
        actor,
        f"{ENTITY}.rotate_secret",
        ENTITY,
        sub.id,
        {"secret": {"changed": True}, "previous_secret_valid_until": {"to": until}},
    )
    return sub, secret


# ---- delivery log -------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    params: PageParams,
    *,
    status: DeliveryStatus | None = None,
) -> tuple[list[WebhookDelivery], str | None]:
    sub = await get_subscription(session, actor, subscription_id)
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == sub.id)
    if status is not None:
        stmt = stmt.where(col(WebhookDelivery.status) == status)
    keys: list[Any] = [WebhookDelivery.created_at, WebhookDelivery.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


async def _get_delivery(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> WebhookDelivery:
    sub = await get_subscription(session, actor, subscription_id)
    stmt = select(WebhookDelivery).where(
        col(WebhookDelivery.id) == delivery_id, col(WebhookDelivery.subscription_id) == sub.id
    )
    if for_update:
        stmt = stmt.with_for_update()
    delivery = (await session.execute(stmt)).scalars().first()
    if delivery is None:
        raise NotFound(f"La entrega {delivery_id} no existe")
    return delivery


async def list_attempts(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    params: PageParams,
) -> tuple[list[WebhookAttempt], str | None]:
    delivery = await _get_delivery(session, actor, subscription_id, delivery_id)
    stmt = select(WebhookAttempt).where(col(WebhookAttempt.delivery_id) == delivery.id)
    keys: list[Any] = [WebhookAttempt.id]
    return await paginate(session, stmt, params, keys=keys)


async def redeliver(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """A succeeded or dead delivery goes back to pending, due now; its attempt count is kept
    (so a failed redelivery is dead-lettered again instead of starting a new day of retries).
    The webhook engine is woken after the commit."""
    delivery = await _get_delivery(session, actor, subscription_id, delivery_id, for_update=True)
    if delivery.status == DeliveryStatus.pending:
        raise Conflict("La entrega ya está pendiente de envío")
    sub = await get_subscription(session, actor, subscription_id)
    if not sub.is_active:
        raise Conflict("La suscripción está desactivada; actívela antes de reenviar")
    previous = delivery.status
    now = datetime.now(UTC)
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.locked_until = None
    delivery.updated_at = now
    await crud.flush(session)
    await audit.record(
        session,
        actor,
        "webhook_delivery.redeliver",
        "webhook_delivery",
        delivery.id,
        {"status": {"from": previous, "to": DeliveryStatus.pending.value}},
    )
    outbox.wake_webhooks(session)
    return delivery
