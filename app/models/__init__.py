"""All table models, imported so that `SQLModel.metadata` is complete."""

from app.models.area import Area, CatalogueService
from app.models.audit import AuditLog
from app.models.auth import RefreshToken
from app.models.base import Role
from app.models.calendar import (
    Announcement,
    AnnouncementRead,
    CalendarEntry,
    CalendarEntryMunicipality,
    EventRegistration,
    FeedToken,
    NewsletterDispatch,
    TrainingAction,
    TrainingAttendance,
    TrainingSession,
    VisitDaily,
)
from app.models.consultation import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ReferenceCounter,
)
from app.models.expediente import (
    Expediente,
    ExpedienteConsultation,
    ExpedienteDocument,
    ExpedienteStageEntry,
    IdempotencyRecord,
    ProcedureType,
    StageDefinition,
)
from app.models.faq import AssistantQuery, FaqEntry
from app.models.integration import IntegrationClient
from app.models.municipality import Comarca, Municipality
from app.models.notification import (
    EmailDelivery,
    Notification,
    NotificationEvent,
    NotificationPreference,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.sla import Holiday, SlaPolicy
from app.models.survey import SatisfactionSurvey, Suggestion
from app.models.user import User

__all__ = [
    "Announcement",
    "AnnouncementRead",
    "Area",
    "AssistantQuery",
    "AuditLog",
    "CalendarEntry",
    "CalendarEntryMunicipality",
    "CatalogueService",
    "Comarca",
    "Consultation",
    "ConsultationEvent",
    "ConsultationMessage",
    "EmailDelivery",
    "EventRegistration",
    "Expediente",
    "ExpedienteConsultation",
    "ExpedienteDocument",
    "ExpedienteStageEntry",
    "FaqEntry",
    "FeedToken",
    "Holiday",
    "IdempotencyRecord",
    "IntegrationClient",
    "Municipality",
    "NewsletterDispatch",
    "Notification",
    "NotificationEvent",
    "NotificationPreference",
    "ProcedureType",
    "ReferenceCounter",
    "RefreshToken",
    "Role",
    "SatisfactionSurvey",
    "SlaPolicy",
    "StageDefinition",
    "Suggestion",
    "TrainingAction",
    "TrainingAttendance",
    "TrainingSession",
    "User",
    "VisitDaily",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
