"""Notifications: one event per thing that happened (the outbox), fanned out to people
(in-app, e-mail) and to integrations (signed webhooks)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel, col

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class NotificationKind(StrEnum):
    """The event catalogue: stable names of what the platform tells people and systems."""

    consultation_received = "consultation.received"
    consultation_replied = "consultation.replied"
    consultation_forwarded = "consultation.forwarded"
    consultation_new_for_area = "consultation.new_for_area"
    consultation_assigned = "consultation.assigned"
    consultation_waiting_on_municipality = "consultation.waiting_on_municipality"
    consultation_municipality_replied = "consultation.municipality_replied"
    consultation_answered = "consultation.answered"
    consultation_closed = "consultation.closed"
    consultation_reopened = "consultation.reopened"
    consultation_sla_warning = "consultation.sla_warning"
    consultation_sla_breached = "consultation.sla_breached"
    expediente_created = "expediente.created"
    expediente_stage_changed = "expediente.stage_changed"
    expediente_documents_added = "expediente.documents_added"
    expediente_resolved = "expediente.resolved"
    expediente_stalled = "expediente.stalled"
    grant_call_opened = "grant_call.opened"
    grant_call_closing = "grant_call.closing"
    event_changed = "event.changed"
    event_cancelled = "event.cancelled"
    announcement_published = "announcement.published"


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    dead = "dead"


class NotificationEvent(SQLModel, table=True):
    """Something worth telling, recorded once: `dedupe_key` is unique per item, kind and due
    instant, so repeated scans and concurrent workers cannot record it twice."""

    __tablename__ = "notification_event"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(
        municipality="municipality_id", area="area_id", integration_area="area_id"
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()]
    )
    kind: str = Field(max_length=64, index=True)
    dedupe_key: str = Field(max_length=300, unique=True)
    entity_type: str = Field(max_length=64)
    entity_id: str = Field(max_length=128)
    municipality_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id")
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id")
    title: str = Field(max_length=300)
    body: str = Field(sa_type=Text)
    link: str | None = Field(default=None, max_length=500)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    occurred_at: datetime = aware_datetime_field(nullable=False)
    created_at: datetime = created_at_field()


class Notification(SQLModel, table=True):
    """An event as it reaches one person's in-app feed."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_notification_event_user"),
        Index("ix_notification_user_feed", "user_id", text("id DESC")),
        Index("ix_notification_user_unread", "user_id", postgresql_where=text("read_at IS NULL")),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()]
    )
    event_id: int = Field(
        sa_type=BigInteger, foreign_key="notification_event.id", ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = created_at_field()
    read_at: datetime | None = aware_datetime_field()

    @classmethod
    def scope_clause(cls, actor: Any) -> ColumnElement[bool]:
        # A feed is personal: nobody, not even the office, reads another person's.
        if actor.id is None or str(actor.kind) != "user":
            return false()
        clause: ColumnElement[bool] = col(cls.user_id) == actor.id
        return clause


class NotificationPreference(SQLModel, table=True):
    """Which kinds reach a person, and through which channels. Absent rows mean the default:
    in-app and e-mail for every kind."""

    __tablename__ = "notification_preference"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    kind: str = Field(max_length=64, primary_key=True)
    in_app: bool = True
    email: bool = True
    updated_at: datetime = updated_at_field()


class DigestDispatch(SQLModel, table=True):
    """One person's daily digest e-mail: recorded so that a day is sent once."""

    __tablename__ = "digest_dispatch"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_digest_dispatch"),)

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    day: date
    to_address: str = Field(max_length=254)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"
    __label__: ClassVar[str] = "La suscripción"

    id: uuid.UUID = id_field()
    integration_client_id: uuid.UUID | None = Field(
        default=None, foreign_key="integration_client.id", index=True, ondelete="CASCADE"
    )
    # Events of this área only (an integration's subscriptions always carry its área);
    # NULL: every área (admin-managed subscriptions).
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id")
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_type=ARRAY(String(64)))
    secret: str = Field(max_length=200)
    # After a rotation the replaced secret keeps signing, beside the new one, until then.
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_valid_until: datetime | None = aware_datetime_field()
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @classmethod
    def scope_clause(cls, actor: Any) -> ColumnElement[bool]:
        if actor.is_admin:
            return true()
        if actor.is_integration and actor.id is not None:
            clause: ColumnElement[bool] = col(cls.integration_client_id) == actor.id
            return clause
        return false()


class WebhookDelivery(SQLModel, table=True):
    """One event to one subscription, retried until it succeeds or is dead-lettered."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        CheckConstraint("status IN ('pending', 'succeeded', 'dead')", name="status_values"),
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_delivery_subscription", "subscription_id", text("created_at DESC")),
    )

    id: uuid.UUID = id_field()
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", ondelete="CASCADE")
    event_id: int = Field(
        sa_type=BigInteger, foreign_key="notification_event.id", ondelete="CASCADE"
    )
    status: str = Field(default=DeliveryStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = aware_datetime_field(nullable=False)
    locked_until: datetime | None = aware_datetime_field()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    last_latency_ms: float | None = None
    delivered_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery", "delivery_id", "attempt"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()]
    )
    delivery_id: uuid.UUID = Field(foreign_key="webhook_delivery.id", ondelete="CASCADE")
    attempt: int
    started_at: datetime = created_at_field()
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = Field(default=None, max_length=1000)


class EmailDelivery(SQLModel, table=True):
    """One notification by e-mail, retried like webhooks."""

    __tablename__ = "email_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_email_delivery_event_user"),
        CheckConstraint("status IN ('pending', 'succeeded', 'dead')", name="status_values"),
        Index(
            "ix_email_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")
        ),
    )

    id: uuid.UUID = id_field()
    event_id: int = Field(
        sa_type=BigInteger, foreign_key="notification_event.id", ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    to_address: str = Field(max_length=254)
    status: str = Field(default=DeliveryStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = aware_datetime_field(nullable=False)
    locked_until: datetime | None = aware_datetime_field()
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# ---- API shapes -------------------------------------------------------------------------
