"""Webhook subscriptions, their delivery log and manual redelivery."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Response

from app.core.db import SessionDep
from app.core.deps import CurrentActor
from app.core.errors import Forbidden, problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import Actor
from app.models.audit import ActorType
from app.models.integration import IntegrationScope
from app.models.notification import DeliveryStatus
from app.schemas.events import EventType, event_types
from app.schemas.webhooks import (
    WebhookAttemptPublic,
    WebhookDeliveryPublic,
    WebhookSubscriptionCreate,
    WebhookSubscriptionPublic,
    WebhookSubscriptionUpdate,
    WebhookSubscriptionWithSecret,
)
from app.services import webhooks as service

router = ApiRouter(tags=["webhooks"], route_class=ApiRoute)


def _webhook_actor(scope: IntegrationScope) -> Callable[[Actor], Awaitable[Actor]]:
    """Admins, or an integration client holding `scope` (for its own subscriptions)."""

    async def _check(actor: CurrentActor) -> Actor:
        if actor.is_admin:
            return actor
        if actor.kind == ActorType.integration:
            if scope.value in actor.scopes:
                return actor
            raise Forbidden(f"Se requiere una integración con el permiso «{scope.value}»")
        raise Forbidden("Solo la administración y las integraciones gestionan webhooks")

    return _check


Reader = Annotated[Actor, Depends(_webhook_actor(IntegrationScope.notifications_read))]
Writer = Annotated[Actor, Depends(_webhook_actor(IntegrationScope.notifications_ack))]


def _with_secret(sub: object, secret: str) -> WebhookSubscriptionWithSecret:
    public = WebhookSubscriptionPublic.model_validate(sub)
    return WebhookSubscriptionWithSecret(**public.model_dump(), secret=secret)


@router.get(
    "/webhooks/event-types",
    operation_id="webhooks_event_types",
    summary="Catálogo de tipos de evento",
    response_model=list[EventType],
    responses=problem_responses(422),
)
async def list_event_types() -> list[EventType]:
    """Every event a subscription can receive, with who is told and the schema of its payload
    (described in the `webhooks` section of this document). Public: it documents the API."""
    return event_types()


@router.get(
    "/webhooks",
    operation_id="webhooks_list",
    summary="Listar suscripciones de webhooks",
    response_model=Page[WebhookSubscriptionPublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_webhooks(
    session: SessionDep, actor: Reader, page: PageDep
) -> Page[WebhookSubscriptionPublic]:
    """Admins see every subscription; an integration only its own. Newest first."""
    rows, cursor = await service.list_subscriptions(session, actor, page)
    return Page.of(WebhookSubscriptionPublic, rows, cursor)


@router.post(
    "/webhooks",
    operation_id="webhooks_create",
    summary="Crear una suscripción de webhooks",
    status_code=201,
    response_model=WebhookSubscriptionWithSecret,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_webhook(
    data: WebhookSubscriptionCreate, session: SessionDep, actor: Writer, response: Response
) -> WebhookSubscriptionWithSecret:
    """Subscribes a URL to notification events; the signing secret is shown only here."""
    sub, secret = await service.create_subscription(session, actor, data)
    response.headers["Location"] = f"/api/v1/webhooks/{sub.id}"
    return _with_secret(sub, secret)


@router.get(
    "/webhooks/{subscription_id}",
    operation_id="webhooks_get",
    summary="Consultar una suscripción de webhooks",
    response_model=WebhookSubscriptionPublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_webhook(
    subscription_id: uuid.UUID, session: SessionDep, actor: Reader
) -> WebhookSubscriptionPublic:
    """One subscription (without its secret)."""
    sub = await service.get_subscription(session, actor, subscription_id)
    return WebhookSubscriptionPublic.model_validate(sub)


@router.patch(
    "/webhooks/{subscription_id}",
    operation_id="webhooks_update",
    summary="Modificar una suscripción de webhooks",
    response_model=WebhookSubscriptionPublic,
    responses=problem_responses(401, 403, 404, 413, 415, 422),
)
async def update_webhook(
    subscription_id: uuid.UUID,
    data: WebhookSubscriptionUpdate,
    session: SessionDep,
    actor: Writer,
) -> WebhookSubscriptionPublic:
    """URL, description, event types, área (admins) or active flag."""
    sub = await service.update_subscription(session, actor, subscription_id, data)
    return WebhookSubscriptionPublic.model_validate(sub)


@router.delete(
    "/webhooks/{subscription_id}",
    operation_id="webhooks_delete",
    summary="Eliminar una suscripción de webhooks",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_webhook(subscription_id: uuid.UUID, session: SessionDep, actor: Writer) -> None:
    """Removes the subscription together with its delivery log."""
    await service.delete_subscription(session, actor, subscription_id)


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    operation_id="webhooks_rotate_secret",
    summary="Renovar el secreto de firma",
    response_model=WebhookSubscriptionWithSecret,
    responses=problem_responses(401, 403, 404, 422),
)
async def rotate_webhook_secret(
    subscription_id: uuid.UUID, session: SessionDep, actor: Writer
) -> WebhookSubscriptionWithSecret:
    """Issues a new signing secret, shown only in this response; the next attempts use it."""
    sub, secret = await service.rotate_secret(session, actor, subscription_id)
    return _with_secret(sub, secret)


@router.get(
    "/webhooks/{subscription_id}/deliveries",
    operation_id="webhooks_deliveries_list",
    summary="Registro de entregas de una suscripción",
    response_model=Page[WebhookDeliveryPublic],
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    actor: Reader,
    page: PageDep,
    status: DeliveryStatus | None = None,
) -> Page[WebhookDeliveryPublic]:
    """Newest first: status, attempts, last status code, latency and error."""
    rows, cursor = await service.list_deliveries(
        session, actor, subscription_id, page, status=status
    )
    return Page(items=[WebhookDeliveryPublic.of(d) for d in rows], next_cursor=cursor)


@router.get(
    "/webhooks/{subscription_id}/deliveries/{delivery_id}/attempts",
    operation_id="webhooks_delivery_attempts",
    summary="Intentos de una entrega",
    response_model=Page[WebhookAttemptPublic],
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_attempts(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: SessionDep,
    actor: Reader,
    page: PageDep,
) -> Page[WebhookAttemptPublic]:
    """Every attempt, oldest first, with its status code, latency and error."""
    rows, cursor = await service.list_attempts(session, actor, subscription_id, delivery_id, page)
    return Page.of(WebhookAttemptPublic, rows, cursor)


@router.post(
    "/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver",
    operation_id="webhooks_delivery_redeliver",
    summary="Reenviar una entrega",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def redeliver(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: SessionDep,
    actor: Writer,
) -> WebhookDeliveryPublic:
    """A succeeded or dead delivery is sent again (same webhook-id) as soon as a worker takes
    it; 409 while it is still pending."""
    delivery = await service.redeliver(session, actor, subscription_id, delivery_id)
    return WebhookDeliveryPublic.of(delivery)
